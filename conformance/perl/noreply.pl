sub main {
    my ($req, $res) = @_;
    return { 'this is' => 'not a reply' };
}
