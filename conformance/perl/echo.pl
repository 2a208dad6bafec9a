sub main {
    my ($req, $res) = @_;
    $res->json({ env => $req->{env}, payload => $req->{payload}, headers => $req->{headers} });
}
