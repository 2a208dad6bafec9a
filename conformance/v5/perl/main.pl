# The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md).
use strict;
use warnings;
use utf8;
use JSON::PP ();
use Time::HiRes ();

my %actions = (
    plaintextResponse => sub { $_[0]->res->text('Hello World 👋') },
    jsonResponse => sub { $_[0]->res->json({ json => JSON::PP::true, message => 'Developers are awesome.' }) },
    customCharsetResponse => sub { $_[0]->res->text('ÅÆ', 200, { 'content-type' => 'text/plain; charset=iso-8859-1' }) },
    uppercaseCharsetResponse => sub { $_[0]->res->text('ÅÆ', 200, { 'content-type' => 'TEXT/PLAIN' }) },
    multipartResponse => sub {
        $_[0]->res->text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
            { 'content-type' => 'multipart/form-data; boundary=12345' });
    },
    redirectResponse => sub { $_[0]->res->redirect('https://github.com/') },
    emptyResponse => sub { $_[0]->res->empty },
    noResponse => sub {
        $_[0]->res->text('This should be ignored, as it is not returned.');
        return;
    },
    doubleResponse => sub {
        $_[0]->res->text('This should be ignored.');
        return $_[0]->res->text('This should be returned.');
    },
    headersResponse => sub {
        my ($context) = @_;
        my $headers = $context->req->headers;
        return $context->res->text('OK', 200, {
            'first-header' => 'first-value',
            'second-header' => $headers->{'x-open-runtimes-custom-in-header'} // 'missing',
            'cookie' => $headers->{cookie} // 'missing',
            'x-open-runtimes-custom-out-header' => 'third-value',
            'Mixed-Case-Header' => 'mixed',
        });
    },
    statusResponse => sub { $_[0]->res->text('FAIL', 404) },
    setCookie => sub { $_[0]->res->text('OK', 200, { 'set-cookie' => ['cookie=value; path=/', 'cookie2=value2'] }) },
    binaryResponse => sub { $_[0]->res->binary(pack('C*', 0x00, 0x0A, 0xFF, 0x80, 0x00)) },
    binaryResponseLarge => sub { $_[0]->res->binary(pack('C*', 0 .. 255) x (17825792 / 256)) },
    requestMethod => sub { $_[0]->res->text($_[0]->req->method) },
    requestUrl => sub {
        my $req = $_[0]->req;
        return $_[0]->res->json({ url => $req->url, scheme => $req->scheme, host => $req->host, port => $req->port,
            path => $req->path, queryString => $req->query_string, query => $req->query });
    },
    requestHeaders => sub { $_[0]->res->json($_[0]->req->headers) },
    requestBodyText => sub { $_[0]->res->text($_[0]->req->body_text) },
    requestBodyRaw => sub { $_[0]->res->text($_[0]->req->body_raw) },
    requestBodyJson => sub { $_[0]->res->json($_[0]->req->body_json) },
    requestBody => sub { $_[0]->res->json({ body => $_[0]->req->body }) },
    requestBodyBinary => sub { $_[0]->res->binary($_[0]->req->body_binary) },
    requestBodyLength => sub { $_[0]->res->json({ length => length $_[0]->req->body_binary }) },
    envVars => sub {
        $_[0]->res->json({ var => $ENV{CUSTOM_ENV_VAR}, emptyVar => $ENV{NOT_DEFINED_VAR},
            secret => $ENV{OPEN_RUNTIMES_SECRET}, shimVars => scalar(grep { /\ASHIM_/ } keys %ENV) });
    },
    logs => sub {
        my ($context) = @_;
        $context->log('Debug log');
        $context->error('Error log');
        print "Native log\n";
        $context->log(42);
        $context->log(4.2);
        $context->log(JSON::PP::true);
        $context->log({ objectKey => 'objectValue' });
        $context->log(['arrayValue']);
        $context->log('Log1', 'Log2', 3, { a => 1 });
        $context->error('Error1', ['e']);
        return $context->res->text('');
    },
    longLogs => sub {
        my ($context) = @_;
        $context->log('A' x 9000);
        $context->error('B' x 9000);
        return $context->res->text('OK');
    },
    nativeLogs => sub {
        print "Native log 1\n";
        print "Native log 2\n";
        return $_[0]->res->text('OK');
    },
    multilineLog => sub {
        $_[0]->log("line one\nline two");
        return $_[0]->res->text('OK');
    },
    throwException => sub { die "Code exception occurred" },
    timeout => sub {
        my ($context) = @_;
        $context->log('Timeout start.');
        Time::HiRes::sleep(3); # Perl's core has no non-blocking sleep
        open(my $marker, '>', $context->req->headers->{'x-marker'}) or die "cannot create the marker: $!";
        print {$marker} 'done';
        close $marker;
        return $context->res->text('Successful response.');
    },
    concurrent => sub {
        my ($context) = @_;
        my $index = $context->req->headers->{'x-index'};
        $context->log("concurrent $index");
        Time::HiRes::sleep(0.3);
        return $context->res->text($index);
    },
    deprecatedSend => sub { $_[0]->res->send($_[0]->req->body_raw) },
    deprecatedSendUntyped => sub { $_[0]->res->send('50') },
    deprecatedSendBytes => sub { $_[0]->res->send(pack('C*', 0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF), 200, { 'content-type' => 'image/png' }) },
    enforcedHeaders => sub {
        my $headers = $_[0]->req->headers;
        return $_[0]->res->json({ map { $_ => $headers->{$_} } qw(x-custom x-custom-uppercase x-open-runtimes-custom) });
    },
    errorTest => sub {
        $_[0]->log('Before error...');
        die "Error!";
    },
    spreadOperatorLogs => sub {
        $_[0]->log('engine:', 'open-runtimes');
        $_[0]->error('engine:', 'open-runtimes');
        return $_[0]->res->text('OK');
    },
    requestBodyTextAuto => sub { $_[0]->res->text($_[0]->req->body) },
);

sub main {
    my ($context) = @_;
    my $action = $context->req->headers->{'x-action'} // '';
    my $run = $actions{$action} or die "Unknown action $action";
    return $run->($context);
}
