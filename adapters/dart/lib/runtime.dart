/// runtime-shim adapter library for Dart: `serve(start)` answers the shim's requests with your
/// `start(req, res)` over adapter protocol 1 (docs/adapter-protocol.md), persistently, one at a time.
/// Standard library only; requests come in the `json` encoding.
///
/// Dart cannot dup2, so the launcher the build writes (`runtime`, a shell script) has already moved the
/// protocol off fds 0 and 1 before the program starts: replies go to fd 3, requests come from fd 4, fd 1 is
/// stderr and fd 0 is /dev/null. So print(), native code and child processes can neither write nor read a frame.
library runtime;

import 'dart:async';
import 'dart:convert';
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

  /// [id, body], or null on EOF between frames.
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
        }
        _buffer.add(nl >= 0 ? Uint8List.sublistView(bytes, nl + 1) : bytes);
      }
      if (_id != null && _buffer.length >= _need) {
        final bytes = _buffer.takeBytes(); // the body is copied once, when it is complete
        _buffer.add(Uint8List.sublistView(bytes, _need));
        final frame = <Object>[_id!, Uint8List.sublistView(bytes, 0, _need)];
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

void _writeFrame(RandomAccessFile out, String head, List<int> body) {
  out.writeFromSync(ascii.encode('$head ${body.length}\n'));
  out.writeFromSync(body);
}

/// Serves [start] until the shim closes the request stream. The runtime's build script writes the `main`
/// that calls it with your entry file's `start`.
Future<Never> serve(FutureOr<void> Function(Request req, Response res) start) async {
  final out = File('/proc/self/fd/3').openSync(mode: FileMode.writeOnlyAppend);
  final frames = _Frames(File('/proc/self/fd/4').openRead());
  _writeFrame(out, 'READY 1 json', utf8.encode('dart ${Platform.version.split(' ').first}'));
  while (true) {
    final frame = await frames.next();
    if (frame == null) exit(0);
    final id = frame[0] as String;
    final req = Request._(jsonDecode(utf8.decode(frame[1] as List<int>)) as Map<String, dynamic>);
    final res = Response();
    String? failure;
    try {
      await start(req, res);
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
