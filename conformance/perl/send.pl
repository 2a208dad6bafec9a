use utf8;    # the literal below is characters, like the payload: send() encodes them as UTF-8

sub main {
    my ($req, $res) = @_;
    $res->send("héllo wörld ✓ $req->{payload}", 201);
}
