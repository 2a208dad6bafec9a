# The v5 image test's perl function (tests/images/v5.sh): proves the build step ran (built.txt, written by the
# install command), that the module it installed into local/lib/perl5 (cpanm's layout, on PERL5LIB) loads,
# and the v5 context API.
use strict;
use warnings;
use File::Basename ();
use V5dep; # local/lib/perl5/V5dep.pm, made by the install command

my $here = File::Basename::dirname(__FILE__);

sub main {
    my ($context) = @_;
    $context->log('perl function log', { n => 1 });
    $context->error('perl function error line');
    print "perl native print\n";
    open(my $fh, '<', "$here/built.txt") or die "cannot read built.txt: $!";
    chomp(my $built = <$fh>);
    close $fh;
    return $context->res->json({
        runtime => 'perl',
        method => $context->req->method,
        path => $context->req->path,
        query => $context->req->query,
        body => $context->req->body,
        built => $built,
        dependency => $V5dep::VALUE,
    }, 201, { 'x-v5-test' => 'yes' });
}
