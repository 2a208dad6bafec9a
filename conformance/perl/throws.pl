sub inner_helper {
    die "boom from user code";
}

sub main {
    my ($req, $res) = @_;
    inner_helper();
    $res->send('unreachable');
}
