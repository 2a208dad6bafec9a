# Loads fine, but the entry function has the wrong name: the adapter answers 404.
sub handler {
    my ($req, $res) = @_;
    $res->send('never called');
}
