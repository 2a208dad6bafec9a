use utf8;
use JSON::PP ();

sub main {
    my ($req, $res) = @_;
    $res->json({ nested => { list => [1, 2.5, 'three', JSON::PP::true, undef], unicode => '✓' }, payload => $req->{payload} }, 202);
}
