#!/usr/bin/env perl
# runtime-shim adapter for Perl 5.14+: serves a user's `sub main { my ($req, $res) = @_; ... }` over adapter
# protocol 1. The wire format is docs/adapter-protocol.md. Core modules only (JSON::PP, POSIX, Cwd).

# Compiled before `use strict` so that the user's file gets Perl's defaults, not the adapter's pragmas.
sub shim_compile { eval "package $_[0]; no strict; no warnings;\n#line 1 \"$_[1]\"\n$_[2]\n;1" }

use strict;
use warnings;
use Cwd ();
use File::Spec ();
use JSON::PP ();
use POSIX ();

# The protocol owns fds 0 and 1. Keep private copies (Perl opens them close-on-exec), then point fd 1 at
# stderr and fd 0 at /dev/null, so that nothing user code, XS code or a child process prints or reads can
# touch a frame.
open(my $PROTO_OUT, '>&', \*STDOUT) or die "perl adapter: dup stdout: $!\n";
open(my $PROTO_IN, '<&', \*STDIN) or die "perl adapter: dup stdin: $!\n";
POSIX::dup2(2, 1) // die "perl adapter: dup2: $!\n";
open(STDIN, '<', '/dev/null') or die "perl adapter: /dev/null: $!\n";
binmode($_) for $PROTO_OUT, $PROTO_IN;
$_->autoflush(1) for $PROTO_OUT, \*STDOUT, \*STDERR; # user output is logged line by line, not at exit

my $HEADER_MAX = 256;
my $SELF = Cwd::abs_path(__FILE__);
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub fatal { print STDERR "perl adapter: $_[0]\n"; POSIX::_exit(2) }

sub write_frame {
    my ($head, $body) = @_;
    print {$PROTO_OUT} $head, ' ', length($body), "\n", $body or fatal("writing a reply: $!");
}

sub read_frame {
    my $line = '';
    while ($line !~ /\n\z/) {                     # a bounded readline: byte by byte from the buffer
        fatal("a request header is longer than $HEADER_MAX bytes") if length($line) >= $HEADER_MAX;
        my $got = read($PROTO_IN, $line, 1, length $line) // fatal("reading a request: $!");
        next if $got;
        exit 0 if $line eq '';                      # EOF between frames: the shim is done with us
        fatal('input ended inside a request header');
    }
    chop $line;
    my @t = split / /, $line, -1;
    fatal("bad request header: $line")
        unless @t >= 3 && $t[0] eq 'REQ' && $t[1] =~ /\A[A-Za-z0-9._-]{1,64}\z/ && $t[-1] =~ /\A(?:0|[1-9][0-9]*)\z/;
    my $got = read($PROTO_IN, my $body, $t[-1]) // fatal("reading a request: $!");
    fatal('input ended inside a request body') if $got != $t[-1];
    return ($t[1], $body);
}

# The `kv` request encoding (JSON::PP decodes a large payload slowly): records "<tag> <K> <V>\n<key><value>".
sub decode_kv {
    my ($body) = @_;
    my %msg = (env => {}, headers => {});
    for (my $at = 0; $at < length $body;) {
        my $nl = index($body, "\n", $at);
        my ($tag, $k, $v) = $nl < 0 ? () : split / /, substr($body, $at, $nl - $at);
        fatal('bad request record') unless defined $v && $k =~ /\A[0-9]+\z/ && $v =~ /\A[0-9]+\z/;
        my ($key, $value) = (substr($body, $nl + 1, $k), substr($body, $nl + 1 + $k, $v));
        $at = $nl + 1 + $k + $v;
        fatal('a request record overruns the body') if $at > length $body;
        utf8::decode($key), utf8::decode($value); # character strings, like JSON::PP gives (bytes if not UTF-8)
        if ($tag eq 'env') { $msg{env}{$key} = $value }
        elsif ($tag eq 'header') { $msg{headers}{$key} = $value }
        else { $msg{$tag} = $value }              # path, file, payload, timeout_ms, deadline_ms; later ones too
    }
    return \%msg;
}

package Shim::Request { sub env { $_[0]{env} } sub payload { $_[0]{payload} } sub headers { $_[0]{headers} } }

package Shim::Response {
    use Carp ();
    # Text is a character string (as `use utf8` literals and the request's strings are): sent as UTF-8.
    sub send { my ($self, $text, $status) = @_; $self->_set($status, 'text', $text // '') }
    sub json { my ($self, $value, $status) = @_; $self->_set($status, 'json', $JSON->encode($value)) }
    sub _set {
        my ($self, $status, $type, $body) = @_;
        $status //= 200;
        Carp::croak("status must be an integer from 200 to 599, not $status")
            unless $status =~ /\A[2-5][0-9][0-9]\z/;
        utf8::encode($body) if $type eq 'text';
        $self->{reply} = [$status, $type, $body]; # the last call wins
    }
}

package main;

my %functions;    # absolute path of the entry file -> its main; each file is compiled once, in its own package
my $packages = 0;

sub not_found { die bless { message => $_[0] }, 'Shim::NotFound' }

sub load_function {
    my ($dir, $file) = @_;
    not_found("no entry file was named for $dir: the request's file is empty and the image sets no APPWRITE_ENTRYPOINT_NAME")
        if $file eq '';
    my $full = File::Spec->rel2abs($file, $dir);
    return $functions{$full} if $functions{$full};
    not_found("entry file $full does not exist: expected a file defining sub main") unless -f $full;
    open(my $fh, '<', $full) or die "cannot read $full: $!\n";
    my $source = do { local $/; <$fh> };
    my $package = 'Shim::Function' . ++$packages;
    for my $lib (Cwd::abs_path($dir) // $dir, (File::Spec->splitpath($full))[1]) { # like `perl -I`: siblings load
        unshift @INC, $lib unless grep { $_ eq $lib } @INC;
    }
    shim_compile($package, $full, $source) or die $@;  # a 500; nothing is cached, the next request retries
    my $main = $package->can('main') or not_found("$full defines no function main (sub main { my (\$req, \$res) = \@_; ... })");
    return $functions{$full} = $main;
}

# A die's message says where; the stack is recorded when it is thrown, as Carp::confess would print it.
my ($last_die, $last_stack) = ('', '');
sub record_stack {
    my @lines;
    for (my $i = 1; my @c = caller($i); $i++) {
        last if $c[1] eq $SELF;                     # the adapter's own frames only hide the user's
        (my $sub = $c[3]) =~ s/\AShim::Function[0-9]+::/main::/;
        push @lines, "\t$sub called at $c[1] line $c[2]";
    }
    ($last_die, $last_stack) = ("$_[0]", join("\n", @lines));
}

sub handle {
    my ($rid, $body) = @_;
    my ($reply, $res);
    my $ok = eval {
        my $msg = decode_kv($body);
        my $dir = ($msg->{path} // '') ne '' ? $msg->{path} : ($ENV{SHIM_CODE_PATH} // '/usr/code');
        my $main = load_function($dir, $msg->{file} // '');
        $res = bless {}, 'Shim::Response';
        local $SIG{__DIE__} = \&record_stack;
        $main->(bless({ env => $msg->{env}, payload => $msg->{payload} // '', headers => $msg->{headers} }, 'Shim::Request'),
            $res);
        $reply = $res->{reply}
            ? ["RES $rid $res->{reply}[0] $res->{reply}[1]", $res->{reply}[2]]
            : ["ERR $rid 500", "main in " . File::Spec->rel2abs($msg->{file} // '', $dir) . ' returned without calling $res->send or $res->json'];
        1;
    };
    return $reply if $ok;
    my $error = $@;
    return ["ERR $rid 404", $error->{message}] if ref $error eq 'Shim::NotFound';
    my $message = ref $error ? (eval { "$error" } // ref $error) : $error;
    $message .= "\n" unless $message =~ /\n\z/;
    $message .= "$last_stack\n" if $last_stack ne '' && $last_die eq "$error";
    utf8::encode($message) if utf8::is_utf8($message);
    return ["ERR $rid 500", $message];
}

if (my ($dir, $entry) = @ENV{qw(SHIM_CODE_PATH SHIM_ENTRYPOINT)}) {
    eval { load_function($dir, $entry) } if defined $dir && defined $entry && -f File::Spec->rel2abs($entry, $dir);
}
write_frame('READY 1 kv', sprintf('perl %vd', $^V));
while (1) {
    my ($rid, $body) = read_frame();
    write_frame(@{ handle($rid, $body) });
}
