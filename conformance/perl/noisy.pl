use POSIX ();

sub main {
    my ($req, $res) = @_;
    my $p = $req->{payload};
    print "noisy-stdout $p\n";
    print STDERR "noisy-stderr $p\n";
    # The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
    system('sh', '-c', 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', 'sh', $p) == 0 or die "sh failed: $?";
    POSIX::write(1, "noisy-fd1 $p\n", length "noisy-fd1 $p\n");
    $res->send("quiet $p");
}
