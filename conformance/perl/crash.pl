use POSIX ();

sub main {
    POSIX::_exit(3);
}
