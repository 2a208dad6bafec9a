#!/usr/bin/env perl
# runtime-shim adapter for Perl 5.14+: serves a user's `sub main { my ($req, $res) = @_; ... }` over adapter
# protocol 1 (the v1 contract), or an open-runtimes style `sub main { my ($context) = @_; ... }` over adapter
# protocol 2 (the v5 contract) when SHIM_PROTOCOL is 2. The wire format is docs/adapter-protocol.md. Core modules
# only (JSON::PP, POSIX, Cwd).

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

my $PROTOCOL = ($ENV{SHIM_PROTOCOL} // '') eq '2' ? 2 : 1;
my $HEADER_MAX = 256;
my $SELF = Cwd::abs_path(__FILE__);
my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $PID = $$; # frames are written by this process only: a child the function forked shares the pipe

sub fatal { print STDERR "perl adapter: $_[0]\n"; POSIX::_exit(2) }

# One frame: the header line with the parts' total length, then the parts (byte strings).
sub write_frame {
    my ($head, @parts) = @_;
    return if $$ != $PID;
    utf8::is_utf8($_) and utf8::encode($_) for @parts;
    my $length = 0;
    $length += length for @parts;
    print {$PROTO_OUT} $head, ' ', $length, "\n", @parts or fatal("writing a reply: $!");
}

sub read_header {
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
    return @t;
}

sub read_exactly {
    my ($size) = @_;
    my $data = '';
    return $data if $size == 0;
    my $got = read($PROTO_IN, $data, $size) // fatal("reading a request: $!");
    fatal('input ended inside a request body') if $got != $size;
    return $data;
}

# Protocol 1: `REQ <id> <N>` and the request's records.
sub read_frame {
    my @t = read_header();
    return ($t[1], read_exactly($t[-1]));
}

# Protocol 2: `REQ <id> <M> <N>`, then M bytes of metadata records and N - M bytes of raw body.
sub read_frame2 {
    my @t = read_header();
    fatal('bad request header: ' . join(' ', @t)) unless @t == 4 && $t[2] =~ /\A(?:0|[1-9][0-9]*)\z/ && $t[2] <= $t[3];
    return ($t[1], read_exactly($t[2]), read_exactly($t[3] - $t[2]));
}

# The `kv` request encoding (JSON::PP decodes a large payload slowly): records "<tag> <K> <V>\n<key><value>".
sub decode_kv {
    my ($body) = @_;
    my %msg = (env => {}, headers => {}, query => {});
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
        elsif ($tag eq 'query') { $msg{query}{$key} = $value } # protocol 2
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

# Protocol 2: the v5 API, `sub main { my ($context) = @_; ... }`. The shim has computed everything `$context->req`
# shows and applies the contract's rules to the reply (header names and filtering, content-type and charset, log
# truncation, log files); here the function is loaded, `$context` is built and bytes move.

my $LOG_LINE_MAX = 1 << 16; # characters per LOG frame: far past the shim's 8000-character cut
my $serving;                # the id of the request being served, undef between requests

# JSON objects of a request body keep their keys in order (`bodyJson` sent back is what came), so they are decoded
# here into hashes tied to this class; JSON::PP would lose the order.
package Shim::OrderedHash {
    sub TIEHASH { bless { keys => [], values => {}, at => 0 }, $_[0] }
    sub STORE {
        my ($self, $key, $value) = @_;
        push @{ $self->{keys} }, $key unless exists $self->{values}{$key};
        $self->{values}{$key} = $value;
    }
    sub FETCH { $_[0]{values}{ $_[1] } }
    sub EXISTS { exists $_[0]{values}{ $_[1] } }
    sub DELETE {
        my ($self, $key) = @_;
        $self->{keys} = [grep { $_ ne $key } @{ $self->{keys} }] if exists $self->{values}{$key};
        delete $self->{values}{$key};
    }
    sub CLEAR { @{ $_[0] }{qw(keys values)} = ([], {}) }
    sub FIRSTKEY { $_[0]{at} = 0; $_[0]->NEXTKEY }
    sub NEXTKEY { my $self = shift; $self->{at} < @{ $self->{keys} } ? $self->{keys}[ $self->{at}++ ] : undef }
    sub SCALAR { scalar %{ $_[0]{values} } }
}

my %JSON_ESCAPES = ('"' => '"', '\\' => '\\', '/' => '/', b => "\b", f => "\f", n => "\n", r => "\r", t => "\t");

# Decodes UTF-8 JSON text: objects as ordered hashes, numbers as numbers, true/false as JSON::PP's booleans.
sub json_decode {
    my $text = shift;
    utf8::decode($text) or die "malformed JSON: the text is not UTF-8\n";
    my $value = json_value(\$text, 0);
    $text =~ /\G[ \t\n\r]*/gc;
    json_fail(\$text, 'the end of the text') if pos($text) != length $text;
    return $value;
}

sub json_fail {
    my ($t, $what) = @_;
    my $at = pos($$t) // 0;
    die $at >= length $$t ? "malformed JSON: expected $what, found the end of the text\n"
        : "malformed JSON: expected $what at character $at\n";
}

sub json_value {
    my ($t, $depth) = @_;
    die "malformed JSON: nested deeper than 512\n" if $depth > 512;
    $$t =~ /\G[ \t\n\r]*/gc;
    if ($$t =~ /\G\{[ \t\n\r]*/gc) {
        tie my %object, 'Shim::OrderedHash';
        return \%object if $$t =~ /\G\}/gc;
        while (1) {
            $$t =~ /\G[ \t\n\r]*"/gc or json_fail($t, 'a string');
            my $key = json_string($t);
            $$t =~ /\G[ \t\n\r]*:/gc or json_fail($t, "':'");
            $object{$key} = json_value($t, $depth + 1);
            next if $$t =~ /\G[ \t\n\r]*,/gc;
            return \%object if $$t =~ /\G[ \t\n\r]*\}/gc;
            json_fail($t, "',' or '}'");
        }
    }
    if ($$t =~ /\G\[[ \t\n\r]*/gc) {
        my @array;
        return \@array if $$t =~ /\G\]/gc;
        while (1) {
            push @array, json_value($t, $depth + 1);
            next if $$t =~ /\G[ \t\n\r]*,/gc;
            return \@array if $$t =~ /\G[ \t\n\r]*\]/gc;
            json_fail($t, "',' or ']'");
        }
    }
    return json_string($t) if $$t =~ /\G"/gc;
    return 0 + "$1" if $$t =~ /\G(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/gc;
    return JSON::PP::true() if $$t =~ /\Gtrue/gc;
    return JSON::PP::false() if $$t =~ /\Gfalse/gc;
    return undef if $$t =~ /\Gnull/gc;
    json_fail($t, 'a value');
}

sub json_string { # after the opening quote
    my ($t) = @_;
    my $string = '';
    while (1) {
        $string .= $1 if $$t =~ /\G([^"\\\x00-\x1f]+)/gc;
        return $string if $$t =~ /\G"/gc;
        if ($$t =~ /\G\\(["\\\/bfnrt])/gc) {
            $string .= $JSON_ESCAPES{$1};
        } elsif ($$t =~ /\G\\u([0-9a-fA-F]{4})/gc) {
            my $code = hex $1;
            if ($code >= 0xD800 && $code < 0xDC00 && $$t =~ /\G\\u(d[c-f][0-9a-f]{2})/gci) {
                $code = 0x10000 + (($code - 0xD800) << 10) + (hex($1) - 0xDC00);
            }
            no warnings; # a lone surrogate stays one, as other languages keep it
            $string .= chr $code;
        } else {
            json_fail($t, 'a string character');
        }
    }
}

# Encodes a value as JSON text (characters): an ordered hash in its order, any other hash with its keys sorted (a
# Perl hash has no order to keep), the leaves (strings, numbers, booleans, undef, objects with TO_JSON) by JSON::PP.
my $JSON_LEAF = JSON::PP->new->allow_nonref->canonical->convert_blessed;
sub json_text {
    my ($value, $depth) = @_;
    die "cannot encode JSON nested deeper than 512\n" if ($depth //= 0) > 512;
    my $type = ref $value;
    if ($type eq 'HASH') {
        my @keys = tied(%$value) ? keys %$value : sort keys %$value;
        return '{' . join(',', map { $JSON_LEAF->encode("$_") . ':' . json_text($value->{$_}, $depth + 1) } @keys) . '}';
    }
    return '[' . join(',', map { json_text($_, $depth + 1) } @$value) . ']' if $type eq 'ARRAY';
    return $JSON_LEAF->encode($value);
}

sub text_bytes { # a character string (Perl's UTF-8 flag on) as UTF-8; any other string is bytes already
    my $text = shift // '';
    $text = "$text";
    utf8::encode($text) if utf8::is_utf8($text);
    return $text;
}

sub v5_status {
    my $status = shift // 200;
    Carp::croak("status code must be an integer from 200 to 599, not $status") unless $status =~ /\A[2-5][0-9][0-9]\z/;
    return 0 + $status;
}

# A copy of a response's headers (a hash ref); ($name, $value) is set over any spelling of that name.
sub v5_headers {
    my ($headers, $name, $value) = @_;
    $headers //= {};
    Carp::croak('headers must be a hash ref, not ' . (ref $headers || 'a string')) unless ref $headers eq 'HASH';
    my %copy = %$headers;
    if (defined $name) {
        delete $copy{$_} for grep { lc eq $name } keys %copy;
        $copy{$name} = $value;
    }
    return \%copy;
}

sub v5_response {
    my ($body, $status, $headers, @replace) = @_;
    return { body => $body, statusCode => v5_status($status), headers => v5_headers($headers, @replace) };
}

package Shim::Context {
    sub new {
        my ($class, $rid, $meta, $body) = @_;
        return bless { req => Shim::Context::Request->new($meta, $body), res => bless({}, 'Shim::Context::Response'),
            id => $rid }, $class;
    }
    sub req { $_[0]{req} }
    sub res { $_[0]{res} }
    sub log { my $self = shift; main::write_log($self->{id}, 'log', @_) }
    sub error { my $self = shift; main::write_log($self->{id}, 'error', @_) }
}

# `$context->req`: a hash of the request as the shim computed it, with a method per field and the body getters.
package Shim::Context::Request {
    use Carp ();
    sub new {
        my ($class, $m, $body) = @_;
        return bless {
            body_binary => $body, headers => $m->{headers}, method => $m->{method} // '', scheme => $m->{scheme} // '',
            host => $m->{host} // '', port => 0 + ($m->{port} // 0), path => $m->{path} // '',
            query_string => $m->{query_string} // '', query => $m->{query}, url => $m->{url} // '',
            json_body => ($m->{json_body} // '') eq '1',
        }, $class;
    }
    for my $field (qw(body_binary headers method scheme host port path query_string query url)) {
        no strict 'refs';
        *{"Shim::Context::Request::$field"} = sub { $_[0]{$field} };
    }
    sub body_text { # a character string, decoded from UTF-8 (the bytes as they are if they are not UTF-8)
        my $self = shift;
        if (!defined $self->{text}) {
            $self->{text} = $self->{body_binary};
            utf8::decode($self->{text});
        }
        return $self->{text};
    }
    sub body_raw { $_[0]->body_text } # deprecated: the text
    sub body_json { # parsed on every call, whatever the content type; invalid JSON dies
        my $self = shift;
        my $value;
        eval { $value = main::json_decode($self->{body_binary}); 1 } or Carp::croak($@ =~ s/\n\z//r);
        return $value;
    }
    sub body {
        my $self = shift;
        return $self->body_text unless $self->{json_body};
        return length $self->{body_binary} ? $self->body_json : {};
    }
}

# `$context->res`: each helper returns a response (a hash ref); only what main returns is the reply.
package Shim::Context::Response {
    use Carp ();
    sub text { my ($self, $text, $status, $headers) = @_; main::v5_response(main::text_bytes($text), $status, $headers) }
    sub send { my ($self, $body, $status, $headers) = @_; main::v5_response(main::text_bytes($body), $status, $headers) }
    sub binary {
        my ($self, $bytes, $status, $headers) = @_;
        $bytes = '' . ($bytes // '');
        utf8::downgrade($bytes, 1) or Carp::croak('binary takes bytes, not a string of wide characters');
        main::v5_response($bytes, $status, $headers);
    }
    sub json {
        my ($self, $value, $status, $headers) = @_;
        main::v5_response(main::text_bytes(main::json_text($value)), $status, $headers, 'content-type', 'application/json');
    }
    sub empty { main::v5_response('', 204) }
    sub redirect {
        my ($self, $url, $status, $headers) = @_;
        main::v5_response('', $status // 301, $headers, 'location', $url);
    }
}

package main;

sub log_piece {
    my $value = shift;
    return 'null' unless defined $value;
    return "$value" unless ref $value;                              # strings and numbers as they are
    my $json = eval { json_text($value) };                          # compact JSON: true, {"a":1}, ["x"]
    return defined $json ? $json : "$value";                        # what JSON cannot show, as Perl prints it
}

sub write_log {
    my ($rid, $stream, @messages) = @_;
    my $line = join ' ', map { log_piece($_) } @messages;
    $line = substr($line, 0, $LOG_LINE_MAX) if length $line > $LOG_LINE_MAX;
    if ($$ == $PID && defined $serving && $rid eq $serving) {
        write_frame("LOG $rid $stream", text_bytes($line));
    } else {
        # Its execution has ended, or this is a forked child: a LOG frame would carry a stale id, so the line is
        # native output instead.
        print STDERR text_bytes($line), "\n";
    }
}

my %functions2; # protocol 2: the entry file's main, once it compiled

sub load_failed { die bless { message => $_[0] }, 'Shim::LoadFailed' }

sub load_context_main {
    my ($dir, $entry) = @_;
    my $full = File::Spec->rel2abs($entry, $dir);
    return $functions2{$full} if $functions2{$full};
    load_failed("Failed to load entrypoint, file $entry does not exist.") if $entry eq '' || !-f $full;
    open(my $fh, '<', $full) or load_failed("cannot read $full: $!");
    my $source = do { local $/; <$fh> };
    my $package = 'Shim::Function' . ++$packages;
    for my $lib (Cwd::abs_path($dir) // $dir, (File::Spec->splitpath($full))[1]) {
        unshift @INC, $lib unless grep { $_ eq $lib } @INC;
    }
    # Nothing is cached on a failure: a later request compiles the file again, in a fresh package.
    shim_compile($package, $full, $source) or load_failed(ref $@ ? (eval { "$@" } // ref $@) : $@);
    my $main = $package->can('main') or load_failed("Function signature invalid. Did you forget to export a 'main' function?");
    return $functions2{$full} = $main;
}

sub encode_reply {
    my ($rid, $out) = @_;
    return ("NONE $rid") unless defined $out;
    Carp::croak("main returned $out, not a response: return \$context->res->text(), ->json(), ->binary(), "
        . '->redirect() or ->empty()') unless ref $out eq 'HASH';
    my $body = $out->{body} // '';
    Carp::croak("the response's body must be a string, not $body") if ref $body;
    $body = text_bytes($body);
    my $status = v5_status($out->{statusCode});
    my $meta = '';
    my $headers = v5_headers($out->{headers});
    for my $name (sort keys %$headers) {
        my $value = $headers->{$name};
        for my $one (ref $value eq 'ARRAY' ? @$value : $value) { # an array ref: the header repeats
            my ($k, $v) = (text_bytes($name), text_bytes($one));
            $meta .= 'header ' . length($k) . ' ' . length($v) . "\n" . $k . $v;
        }
    }
    return ("RES $rid $status " . length $meta, $meta, $body);
}

sub handle2 {
    my ($rid, $meta, $raw, $dir, $entry) = @_;
    my @reply;
    my $ok = eval {
        my $main = load_context_main($dir, $entry);
        my $context = Shim::Context->new($rid, decode_kv($meta), $raw);
        local $SIG{__DIE__} = \&record_stack;
        @reply = encode_reply($rid, scalar $main->($context));
        1;
    };
    return @reply if $ok;
    my $error = $@;
    return ("ERR $rid 503", text_bytes($error->{message})) if ref $error eq 'Shim::LoadFailed';
    my $message = ref $error ? (eval { "$error" } // ref $error) : $error;
    $message .= "\n" unless $message =~ /\n\z/;
    $message .= "$last_stack\n" if $last_stack ne '' && $last_die eq "$error";
    return ("ERR $rid 500", text_bytes($message));
}

# One execution must not reach into the next: each starts in the working directory and with the environment the
# adapter had when it became ready, an alarm one left armed (alarm, Time::HiRes::alarm) is disarmed before its
# reply, and a child it forked that returns through the adapter exits there instead of serving.
my %start;

sub keep_start_state { %start = (dir => Cwd::getcwd(), env => {%ENV}) }

sub restore_start_state {
    my $dir = Cwd::getcwd();
    chdir $start{dir} if !defined $dir || $dir ne $start{dir};
    my $env = $start{env};
    my $same = keys %ENV == keys %$env;
    $same &&= exists $env->{$_} && ($ENV{$_} // '') eq ($env->{$_} // '') for keys %ENV;
    %ENV = %$env unless $same;
}

sub end_execution {
    alarm 0;
    POSIX::_exit(0) if $$ != $PID; # a child the function forked, returning through the adapter: it never serves
}

sub serve2 {
    my $contract = $ENV{SHIM_CONTRACT} // 'v5';
    fatal("protocol 2 presents the v5 context API, not the $contract contract") unless $contract =~ /\A(?:v5|http)\z/;
    my $dir = $ENV{SHIM_CODE_PATH} || '/usr/local/server/src/function';
    my $entry = $ENV{SHIM_ENTRYPOINT} // '';
    delete @ENV{ grep { /\ASHIM_/ } keys %ENV }; # the function's variables are the environment, not the adapter's
    eval { load_context_main($dir, $entry) };    # a failure is reported to every request until one loads it
    keep_start_state();
    write_frame('READY 2 kv', sprintf('perl %vd', $^V));
    while (1) {
        my ($rid, $meta, $raw) = read_frame2();
        restore_start_state();
        $serving = $rid; # from here until the reply, $context->log writes LOG frames with this id
        my @reply = handle2($rid, $meta, $raw, $dir, $entry);
        end_execution();
        $serving = undef;
        write_frame(@reply);
    }
}

serve2() if $PROTOCOL == 2;

if (my ($dir, $entry) = @ENV{qw(SHIM_CODE_PATH SHIM_ENTRYPOINT)}) {
    eval { load_function($dir, $entry) } if defined $dir && defined $entry && -f File::Spec->rel2abs($entry, $dir);
}
keep_start_state();
write_frame('READY 1 kv', sprintf('perl %vd', $^V));
while (1) {
    my ($rid, $body) = read_frame();
    restore_start_state();
    my $reply = handle($rid, $body);
    end_execution();
    write_frame(@$reply);
}
