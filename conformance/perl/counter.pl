# File-level state lives as long as the adapter process: the file is compiled once.
my $count = 0;

sub main {
    my ($req, $res) = @_;
    $count += 1;
    $res->json({ count => $count });
}
