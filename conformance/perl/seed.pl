sub main {
    my ($req, $res) = @_;
    $res->json({ normal => 'Hello World!', env1 => $req->{env}{ENV1}, payload => $req->{payload} });
}
