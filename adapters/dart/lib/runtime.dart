/// runtime-shim adapter library for Dart: `serve(start)` answers the shim's requests with your
/// `start(req, res)` over adapter protocol 1 (the v1 contract), or open-runtimes' `start(context)` over adapter
/// protocol 2 (the v5 contract) when SHIM_PROTOCOL is 2 (docs/adapter-protocol.md), persistently, one at a time.
/// Standard library only; requests come in the `json` encoding.
///
/// Dart cannot dup2, so the launcher the build writes (`runtime`, a shell script) has already moved the
/// protocol off fds 0 and 1 before the program starts: replies go to fd 3, requests come from fd 4, fd 1 is
/// stderr and fd 0 is /dev/null. So print(), native code and child processes can neither write nor read a frame.
library runtime;

import 'dart:async';
import 'dart:convert';
import 'dart:ffi';
import 'dart:io';
import 'dart:typed_data';

/// One execution's input. [path] and [file] are what the executor named: a compiled runtime serves the same
/// function for any, so only a router (like the conformance dispatcher) looks at them.
class Request {
  final Map<String, String> env;
  final String payload;
  final Map<String, String> headers;
  final String path, file;
  final int timeoutMs, deadlineMs;

  Request._(Map<String, dynamic> m)
      : env = Map<String, String>.from(m['env'] ?? const {}),
        payload = m['payload'] as String? ?? '',
        headers = Map<String, String>.from(m['headers'] ?? const {}),
        path = m['path'] as String? ?? '',
        file = m['file'] as String? ?? '',
        timeoutMs = m['timeout_ms'] as int? ?? 0,
        deadlineMs = m['deadline_ms'] as int? ?? 0;
}

/// The reply: the last [send] or [json] before `start` completes wins.
class Response {
  String? _head; // "RES <status> <type>" or "ERR 404"
  List<int> _body = const [];

  /// [text] as text/plain; charset=utf-8. A status outside 200..599 throws at your call.
  void send(String text, [int status = 200]) {
    _head = 'RES ${_checked(status)} text';
    _body = utf8.encode(text);
  }

  /// The JSON of [value] (jsonEncode: maps, lists, strings, numbers, booleans, null, toJson()) as
  /// application/json.
  void json(Object? value, [int status = 200]) {
    final text = jsonEncode(value);
    _head = 'RES ${_checked(status)} json';
    _body = utf8.encode(text);
  }

  /// Answers as the shim's "not found" (404), for a function that routes on [Request.file].
  void notFound(String message) {
    _head = 'ERR 404';
    _body = utf8.encode(message);
  }

  static int _checked(int status) {
    if (status < 200 || status > 599) throw ArgumentError.value(status, 'status', 'must be from 200 to 599');
    return status;
  }
}

const _headerMax = 256;

Never _fatal(String message) {
  stderr.writeln('dart adapter: $message');
  exit(2);
}

/// Frames from the request stream: "REQ <id> <N>\n" and N bytes of body.
class _Frames {
  final _buffer = BytesBuilder(copy: false);
  final _waiting = <Completer<void>>[];
  bool _ended = false;

  _Frames(Stream<List<int>> input) {
    input.listen((chunk) {
      _buffer.add(chunk);
      _wake();
    }, onDone: () {
      _ended = true;
      _wake();
    });
  }

  void _wake() {
    for (final c in _waiting) c.complete();
    _waiting.clear();
  }

  Future<void> _more() {
    if (_ended) return Future.value();
    final c = Completer<void>();
    _waiting.add(c);
    return c.future;
  }

  String? _id; // of the frame whose body is being collected
  int _need = 0;
  int _meta = 0; // protocol 2: how many of the body's bytes are metadata

  /// [id, body, metadata length], or null on EOF between frames.
  Future<List<Object>?> next() async {
    while (true) {
      if (_id == null) {
        final bytes = _buffer.takeBytes();
        final nl = bytes.indexOf(10);
        if (nl < 0 && bytes.length >= _headerMax) _fatal('a request header is longer than $_headerMax bytes');
        if (nl >= 0) {
          final t = ascii.decode(bytes.sublist(0, nl), allowInvalid: true).split(' ');
          if (t.length < 3 || t[0] != 'REQ' || !RegExp(r'^[A-Za-z0-9._-]{1,64}$').hasMatch(t[1]) ||
              !RegExp(r'^(0|[1-9][0-9]{0,14})$').hasMatch(t.last)) {
            _fatal('bad request header: ${t.join(' ')}');
          }
          _id = t[1];
          _need = int.parse(t.last);
          _meta = 0;
          if (_protocol2) {
            if (t.length != 4 || !RegExp(r'^(0|[1-9][0-9]{0,14})$').hasMatch(t[2]) || int.parse(t[2]) > _need) {
              _fatal('bad request header: ${t.join(' ')}');
            }
            _meta = int.parse(t[2]);
          }
        }
        _buffer.add(nl >= 0 ? Uint8List.sublistView(bytes, nl + 1) : bytes);
      }
      if (_id != null && _buffer.length >= _need) {
        final bytes = _buffer.takeBytes(); // the body is copied once, when it is complete
        _buffer.add(Uint8List.sublistView(bytes, _need));
        final frame = <Object>[_id!, Uint8List.sublistView(bytes, 0, _need), _meta];
        _id = null;
        return frame;
      }
      if (_ended) {
        if (_id == null && _buffer.isEmpty) return null;
        _fatal('input ended inside a request');
      }
      await _more();
    }
  }
}

void _writeFrame(RandomAccessFile out, String head, List<int> body, [List<int> meta = const []]) {
  out.writeFromSync(ascii.encode('$head ${meta.length + body.length}\n'));
  if (meta.isNotEmpty) out.writeFromSync(meta);
  out.writeFromSync(body);
}

/// Serves [start] until the shim closes the request stream. The runtime's build script writes the `main`
/// that calls it with your entry file's `start`: `start(Request req, Response res)` (v1) or
/// `start(Context context)` (v5). The shim says which contract it speaks (SHIM_PROTOCOL); a start of the other
/// kind answers every request with an error that says so.
Future<Never> serve(Function start) async {
  final out = File('/proc/self/fd/3').openSync(mode: FileMode.writeOnlyAppend);
  final settings = _shimSettings();
  _protocol2 = settings['SHIM_PROTOCOL'] == '2';
  final frames = _Frames(File('/proc/self/fd/4').openRead());
  if (_protocol2) return _serve2(start, out, frames, settings);
  if (start is! FutureOr<void> Function(Request, Response)) {
    start = (Request req, Response res) => res.notFound('start is start(Context context), the v5 API; the v1 '
        'contract calls start(Request req, Response res)');
  }
  final v1 = start as FutureOr<void> Function(Request, Response);
  _writeFrame(out, 'READY 1 json', utf8.encode('dart ${Platform.version.split(' ').first}'));
  while (true) {
    final frame = await frames.next();
    if (frame == null) exit(0);
    final id = frame[0] as String;
    final req = Request._(jsonDecode(utf8.decode(frame[1] as List<int>)) as Map<String, dynamic>);
    final res = Response();
    String? failure;
    try {
      await v1(req, res);
    } catch (error, stack) {
      failure = '$error\n$stack';
    }
    await stdout.flush(); // what the request printed is logged before its reply
    if (failure != null) {
      _writeFrame(out, 'ERR $id 500', utf8.encode(failure));
    } else if (res._head == null) {
      _writeFrame(out, 'ERR $id 500', utf8.encode('start(req, res) returned without calling res.send() or res.json()'));
    } else {
      final kind = res._head!.split(' ');
      _writeFrame(out, [kind[0], id, ...kind.skip(1)].join(' '), res._body);
    }
  }
}

// ---- Protocol 2: open-runtimes' v5 API, `start(context)`. The shim has computed everything `context.req`
// shows and applies the contract's rules to the reply (header names and filtering, content-type and charset, log
// truncation, log files); here the context is built and bytes move.

bool _protocol2 = false;
RandomAccessFile? _proto;
String? _serving; // the request being served, null between requests
String _entrypoint = '';
const _logLineMax = 1 << 16; // characters per LOG frame: far past the shim's 8000-character cut
const _unset = Object(); // an argument of log/error that was not given

/// The entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which [serve]
/// removes from the environment with the shim's other settings. A runtime is built from one entry file and
/// serves it whatever this says; a router (like the conformance dispatcher) may look at it.
String entrypoint() => _entrypoint;

/// One v5 execution: the request, the reply helpers and the execution's log.
class Context {
  final RuntimeRequest req;
  final RuntimeResponse res = RuntimeResponse._();
  final String _id;

  Context._(this._id, this.req);

  /// One line of the logs file: the values joined by one space, strings as they are, others as compact JSON.
  void log(Object? value, [Object? v2 = _unset, Object? v3 = _unset, Object? v4 = _unset, Object? v5 = _unset,
          Object? v6 = _unset, Object? v7 = _unset, Object? v8 = _unset]) =>
      _writeLog(_id, 'log', [value, v2, v3, v4, v5, v6, v7, v8]);

  /// One line of the errors file, as [log].
  void error(Object? value, [Object? v2 = _unset, Object? v3 = _unset, Object? v4 = _unset, Object? v5 = _unset,
          Object? v6 = _unset, Object? v7 = _unset, Object? v8 = _unset]) =>
      _writeLog(_id, 'error', [value, v2, v3, v4, v5, v6, v7, v8]);
}

void _writeLog(String id, String stream, List<Object?> values) {
  var line = values.where((v) => !identical(v, _unset)).map((v) {
    if (v is String) return v;
    try {
      return jsonEncode(v);
    } catch (_) {
      return '$v'; // no JSON form: as Dart prints it
    }
  }).join(' ');
  if (line.length > _logLineMax) line = line.substring(0, _logLineMax);
  if (id == _serving) {
    _writeFrame(_proto!, 'LOG $id $stream', utf8.encode(line));
  } else {
    stderr.writeln(line); // its execution has ended (a timer that outlived it): native output instead
  }
}

/// The request as the shim computed it; the body is decoded only when asked.
class RuntimeRequest {
  final String method, scheme, host, path, queryString, url;
  final int port;

  /// Names lower-cased; a name sent several times has its values joined with ", ".
  final Map<String, String> headers;
  final Map<String, String> query;
  final Uint8List _body;
  final bool _jsonBody;

  RuntimeRequest._(Map<String, dynamic> m, this._body)
      : method = m['method'] as String? ?? '',
        scheme = m['scheme'] as String? ?? '',
        host = m['host'] as String? ?? '',
        port = m['port'] as int? ?? 0,
        path = m['path'] as String? ?? '',
        queryString = m['query_string'] as String? ?? '',
        query = Map<String, String>.unmodifiable(Map<String, String>.from(m['query'] ?? const {})),
        url = m['url'] as String? ?? '',
        headers = Map<String, String>.unmodifiable(Map<String, String>.from(m['headers'] ?? const {})),
        _jsonBody = m['json_body'] == true;

  /// The body as it came (a copy).
  Uint8List get bodyBinary => Uint8List.fromList(_body);

  /// The body as UTF-8 text (malformed bytes become U+FFFD).
  String get bodyText => utf8.decode(_body, allowMalformed: true);

  /// [bodyText] (open-runtimes' older name).
  String get bodyRaw => bodyText;

  /// The body parsed (jsonDecode: maps keep their key order); invalid or empty JSON throws a FormatException.
  dynamic get bodyJson {
    try {
      return jsonDecode(bodyText);
    } on FormatException catch (e) {
      throw FormatException('the request body is not valid JSON: ${e.message}', e.source, e.offset);
    }
  }

  /// [bodyJson] when the content-type is application/json ({} for an empty body), else [bodyText].
  dynamic get body => !_jsonBody ? bodyText : (_body.isEmpty ? <String, dynamic>{} : bodyJson);
}

/// A reply, as `start` returns it.
class RuntimeOutput {
  final Uint8List body;
  final int statusCode;
  final List<MapEntry<String, String>> headers = [];

  RuntimeOutput._(List<int> body, this.statusCode, Map<String, Object?>? headers, [MapEntry<String, String>? own])
      : body = Uint8List.fromList(body) {
    if (statusCode < 200 || statusCode > 599) {
      throw ArgumentError.value(statusCode, 'statusCode', 'must be from 200 to 599');
    }
    (headers ?? const {}).forEach((name, value) {
      if (own != null && name.toLowerCase() == own.key) return; // the helper's own wins
      if (value is Iterable) {
        for (final one in value) this.headers.add(MapEntry(name, '$one')); // sent once per value
      } else {
        this.headers.add(MapEntry(name, '$value'));
      }
    });
    if (own != null) this.headers.add(own);
  }
}

/// The reply helpers: each returns an [RuntimeOutput]; a status outside 200..599 throws at your call. Headers map names
/// to a value, or to a list of values for a header sent once per value (set-cookie).
class RuntimeResponse {
  RuntimeResponse._();

  /// Text; content-type is the shim's default (text/plain) unless the headers give one.
  RuntimeOutput text(String body, [int statusCode = 200, Map<String, Object?>? headers]) =>
      RuntimeOutput._(utf8.encode(body), statusCode, headers);

  /// jsonEncode of [value], content-type application/json.
  RuntimeOutput json(Object? value, [int statusCode = 200, Map<String, Object?>? headers]) =>
      RuntimeOutput._(utf8.encode(jsonEncode(value)), statusCode, headers, const MapEntry('content-type', 'application/json'));

  /// Bytes as they are.
  RuntimeOutput binary(List<int> bytes, [int statusCode = 200, Map<String, Object?>? headers]) =>
      RuntimeOutput._(bytes, statusCode, headers);

  /// 204, no body.
  RuntimeOutput empty() => RuntimeOutput._(const [], 204, null);

  /// An empty reply with location: [url], 301 unless given.
  RuntimeOutput redirect(String url, [int statusCode = 301, Map<String, Object?>? headers]) =>
      RuntimeOutput._(const [], statusCode, headers, MapEntry('location', url));

  /// A String or bytes as given (open-runtimes' older helper).
  RuntimeOutput send(Object body, [int statusCode = 200, Map<String, Object?>? headers]) {
    if (body is String) return text(body, statusCode, headers);
    if (body is List<int>) return binary(body, statusCode, headers);
    throw ArgumentError.value(body, 'body', 'must be a String or a List<int>');
  }
}

/// Thrown by a function that cannot run at all (its setup failed): the execution is a 503 with the message in
/// the errors log, as for an entry file that fails to load.
class LoadFailure implements Exception {
  final String message;

  LoadFailure(this.message);

  @override
  String toString() => message;
}

/// The shim's settings (SHIM_*), read from /proc/self/environ rather than Platform.environment: that map is
/// made once, and must be made after they are gone.
Map<String, String> _shimSettings() {
  final settings = <String, String>{};
  try {
    for (final entry in utf8.decode(File('/proc/self/environ').readAsBytesSync(), allowMalformed: true).split('\u0000')) {
      final eq = entry.indexOf('=');
      if (eq > 0 && entry.startsWith('SHIM_')) settings[entry.substring(0, eq)] = entry.substring(eq + 1);
    }
  } catch (_) {}
  return settings;
}

/// The function's variables are the process environment, and Platform.environment cannot be changed: the
/// shim's own settings are removed with libc's unsetenv (dart:ffi) before anything reads it.
void _hideShimSettings(Iterable<String> names) {
  try {
    final libc = DynamicLibrary.process();
    final malloc = libc.lookupFunction<Pointer<Uint8> Function(IntPtr), Pointer<Uint8> Function(int)>('malloc');
    final free = libc.lookupFunction<Void Function(Pointer<Uint8>), void Function(Pointer<Uint8>)>('free');
    final unsetenv = libc.lookupFunction<Int32 Function(Pointer<Uint8>), int Function(Pointer<Uint8>)>('unsetenv');
    for (final name in names) {
      final bytes = ascii.encode(name);
      final text = malloc(bytes.length + 1);
      text.asTypedList(bytes.length + 1)
        ..setAll(0, bytes)
        ..[bytes.length] = 0;
      unsetenv(text);
      free(text);
    }
  } catch (e) {
    stderr.writeln("dart adapter: the shim's settings stay in the environment: $e");
  }
}

Future<Never> _serve2(Function start, RandomAccessFile out, _Frames frames, Map<String, String> settings) async {
  _proto = out;
  _entrypoint = settings['SHIM_ENTRYPOINT'] ?? '';
  _hideShimSettings(settings.keys);
  final v5 = start is FutureOr<Object?> Function(Context) ? start : null;
  _writeFrame(out, 'READY 2 json', utf8.encode('dart ${Platform.version.split(' ').first}'));
  while (true) {
    final frame = await frames.next();
    if (frame == null) exit(0);
    final id = frame[0] as String;
    final all = frame[1] as Uint8List;
    final m = frame[2] as int;
    final meta = jsonDecode(utf8.decode(Uint8List.sublistView(all, 0, m))) as Map<String, dynamic>;
    final context = Context._(id, RuntimeRequest._(meta, Uint8List.sublistView(all, m)));
    var head = 'ERR $id 500';
    List<int> replyMeta = const [], body = const [];
    _serving = id;
    if (v5 == null) {
      head = 'ERR $id 503';
      body = utf8.encode("Function signature invalid. Did you forget to export a 'main' function? (start is the v1 "
          'start(Request req, Response res); the v5 contract calls start(Context context))');
    } else {
      try {
        final result = await v5(context);
        if (result == null) {
          head = 'NONE $id';
        } else if (result is RuntimeOutput) {
          replyMeta = utf8.encode(jsonEncode([for (final h in result.headers) [h.key, h.value]]));
          head = 'RES $id ${result.statusCode} ${replyMeta.length}';
          body = result.body;
        } else {
          head = 'ERR $id 500';
          body = utf8.encode('start(context) returned a ${result.runtimeType}, not a response: return '
              'context.res.text(), .json(), .binary(), .redirect() or .empty()');
        }
      } on LoadFailure catch (e) {
        head = 'ERR $id 503';
        body = utf8.encode(e.message);
      } catch (error, stack) {
        head = 'ERR $id 500';
        body = utf8.encode('$error\n$stack');
      }
    }
    await stdout.flush(); // what the request printed is logged before its reply
    _serving = null; // a log call from now on has no request: it goes to stderr
    _writeFrame(out, head, body, replyMeta);
  }
}
