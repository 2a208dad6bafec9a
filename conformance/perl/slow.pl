use Time::HiRes ();

sub main {
    my ($req, $res) = @_;
    Time::HiRes::sleep($req->{payload} || 30);
    $res->send('woke');
}
