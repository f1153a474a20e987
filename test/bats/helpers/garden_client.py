#!/usr/bin/env python3
"""garden_client.py: a byte-level client of Garden's process protocol for the bats tests
(garden-protocol.md §1.2-1.3, §5). It speaks what Go's garden client speaks and is strict about
what Go's client requires of the server, so that a framing bug fails a test instead of passing
through a lenient client.

    garden_client.py SOCK run HANDLE SPEC-JSON [OPTIONS]
    garden_client.py SOCK attach HANDLE PROCESS-ID [OPTIONS]
    garden_client.py SOCK stream HANDLE PROCESS-ID STREAM-ID stdout|stderr

run/attach print one JSON object (a summary) on stdout when done:
    {"status": 201, "first": {...first payload...}, "payloads": [...later payloads...],
     "exit_status": N | null, "error": "..." | null, "control_eof": bool,
     "stdout_bytes": N, "stderr_bytes": N, "head": "...", ...}
For a non-2xx answer: {"status": 404, "body": "<the error body>"}.
stream writes the raw stream bytes to stdout and exits 0 at EOF.

Options of run/attach:
    --stdout FILE / --stderr FILE   attach that stream and write its bytes to FILE ("-": keep
                                    them in memory for --then wait-*; default: not attached,
                                    like a Go client given no writer)
    --stdin FILE                    send FILE's contents as stdin payloads (32 KiB chunks of
                                    UTF-8 text), then the stdin EOF payload
    --then ACTION                   actions, run in order after the first payload (repeatable):
        wait-stdout:TEXT            wait until the stdout bytes so far contain TEXT
        wait-stderr:TEXT            likewise for stderr
        stdin:TEXT                  a stdin payload ("\\n", "\\t", "\\\\" are unescaped)
        eof                         the stdin EOF payload
        signal:N                    a signal payload (0 terminate, 1 kill)
        resize:COLSxROWS            a tty payload
        sleep:SECONDS
        touch:PATH                  create the (host) file PATH, e.g. a file a process in the
                                    container waits for (common.bash: sh_await, ctr_tmp)
        disconnect                  close every connection now and print the summary (the
                                    process keeps running)
    --detach                        same as --then disconnect right after the first payload
    --timeout SECONDS               give up (exit 4) after this long (default 60)

Exit status: 0 done; 2 usage; 3 protocol violation (message on stderr); 4 timeout.
"""

import json
import os
import socket
import sys
import threading
import time

STDIN_CHUNK = 32 * 1024


class ProtocolError(Exception):
    pass


def die(code, msg):
    sys.stderr.write("garden_client: %s\n" % msg)
    sys.stderr.flush()
    os._exit(code)


def connect(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s


def read_head(s, what):
    """Reads the status line and headers. Returns (status, headers dict lower-case, raw head,
    leftover bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ProtocolError("%s: connection closed before the end of the response head "
                                "(got %r)" % (what, buf))
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError("%s: malformed status line %r" % (what, lines[0]))
    headers = {}
    for line in lines[1:]:
        if ":" not in line:
            raise ProtocolError("%s: malformed header line %r" % (what, line))
        k, v = line.split(":", 1)
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return parts[0], int(parts[1]), headers, head.decode("latin-1") + "\r\n\r\n", rest


def check_hijack_head(version, headers, what):
    """What Go's httputil.ClientConn needs to hand over the connection (protocol §1.3)."""
    conn = ",".join(headers.get("connection", [])).lower()
    if "close" in [t.strip() for t in conn.split(",")]:
        raise ProtocolError("%s: hijack response says Connection: close" % what)
    if version != "HTTP/1.1":
        raise ProtocolError("%s: hijack response is %s, not HTTP/1.1" % (what, version))
    te = ",".join(headers.get("transfer-encoding", [])).lower()
    if "chunked" not in te and "content-length" not in headers:
        raise ProtocolError("%s: hijack response has neither Transfer-Encoding: chunked nor "
                            "Content-Length (Go's client fails with 'persistent connection "
                            "closed')" % what)


def read_error_body(s, headers, rest):
    """The whole body of a non-2xx answer (Content-Length, chunked or to EOF)."""
    te = ",".join(headers.get("transfer-encoding", [])).lower()
    if "chunked" in te:
        data = rest
        body = b""
        while True:
            while b"\r\n" not in data:
                c = s.recv(65536)
                if not c:
                    raise ProtocolError("EOF in chunked error body")
                data += c
            size_line, data = data.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(data) < size + 2:
                c = s.recv(65536)
                if not c:
                    raise ProtocolError("EOF in chunked error body")
                data += c
            if size == 0:
                return body
            body += data[:size]
            data = data[size + 2:]
    if "content-length" in headers:
        n = int(headers["content-length"][0])
        body = rest
        while len(body) < n:
            c = s.recv(65536)
            if not c:
                raise ProtocolError("EOF in error body (%d of %d bytes)" % (len(body), n))
            body += c
        return body[:n]
    body = rest
    while True:
        c = s.recv(65536)
        if not c:
            return body
        body += c


def hijack(sock_path, method, path, body=None, content_type=None):
    """Sends a request as Go's ClientConn does. Returns (socket, status, headers, raw head,
    leftover) for 2xx, or raises ErrorAnswer."""
    s = connect(sock_path)
    req = "%s %s HTTP/1.1\r\nHost: api\r\nUser-Agent: Go-http-client/1.1\r\n" % (method, path)
    if body is not None:
        req += "Content-Length: %d\r\n" % len(body)
    if content_type:
        req += "Content-Type: %s\r\n" % content_type
    req += "\r\n"
    s.sendall(req.encode() + (body or b""))
    version, status, headers, raw, rest = read_head(s, "%s %s" % (method, path))
    if 200 <= status <= 299:
        check_hijack_head(version, headers, "%s %s" % (method, path))
        return s, status, headers, raw, rest
    err_body = read_error_body(s, headers, rest)
    s.close()
    raise ErrorAnswer(status, err_body)


class ErrorAnswer(Exception):
    def __init__(self, status, body):
        Exception.__init__(self, "HTTP %d" % status)
        self.status = status
        self.body = body


def unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", "r": "\r"}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Session:
    def __init__(self, sock_path, handle, opts):
        self.sock_path = sock_path
        self.handle = handle
        self.opts = opts
        self.lock = threading.Lock()  # control writes
        self.cond = threading.Condition()
        self.payloads = []
        self.exit_status = None
        self.error = None
        self.control_done = False
        self.control_eof = False
        self.streams = {}  # name -> dict(bytes, buf, done, file)
        self.control = None
        self.pid = None
        self.stream_status = {}
        self.disconnected = False

    def send(self, payload):
        msg = dict(process_id=self.pid)
        msg.update(payload)
        line = json.dumps(msg, separators=(",", ":")) + "\n"
        with self.lock:
            if self.disconnected:
                return
            try:
                self.control.sendall(line.encode())
            except OSError:
                pass  # the server has gone; what it said last is still read

    def control_reader(self, rest):
        buf = rest
        try:
            while True:
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    p = json.loads(line)
                    with self.cond:
                        self.payloads.append(p)
                        if p.get("error") is not None:
                            self.error = p["error"]
                            self.control_done = True
                        elif p.get("exit_status") is not None:
                            self.exit_status = p["exit_status"]
                            self.control_done = True
                        self.cond.notify_all()
                chunk = self.control.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        with self.cond:
            if not self.control_done:
                self.control_eof = True
            self.control_done = True
            self.cond.notify_all()

    def stream_reader(self, name, s, rest):
        st = self.streams[name]
        try:
            data = rest
            while True:
                if data:
                    with self.cond:
                        st["bytes"] += len(data)
                        if st["file"]:
                            st["file"].write(data)
                        if len(st["buf"]) < (1 << 20):
                            st["buf"] += data[: (1 << 20) - len(st["buf"])]
                        self.cond.notify_all()
                data = s.recv(1 << 20)
                if not data:
                    break
        except OSError:
            pass
        with self.cond:
            st["done"] = True
            self.cond.notify_all()
        s.close()

    def open_streams(self, stream_id):
        for name in ("stdout", "stderr"):
            dest = getattr(self.opts, name)
            if dest is None:
                continue
            path = "/containers/%s/processes/%s/attaches/%s/%s" % (
                self.handle, self.pid, stream_id, name)
            s, status, headers, raw, rest = hijack(self.sock_path, "GET", path,
                                                   content_type="application/json")
            self.stream_status[name] = status
            f = None if dest == "-" else open(dest, "wb")
            self.streams[name] = dict(bytes=0, buf=b"", done=False, file=f, sock=s)
            threading.Thread(target=self.stream_reader, args=(name, s, rest),
                             daemon=True).start()

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def stdin_writer(self, path):
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8", errors="replace")
        for i in range(0, len(text), STDIN_CHUNK):
            self.send(dict(source=0, data=text[i:i + STDIN_CHUNK]))
        self.send(dict(source=0))

    def disconnect(self):
        with self.lock:
            self.disconnected = True
            for s in [self.control] + [st["sock"] for st in self.streams.values()]:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def run_action(self, action, deadline):
        kind, _, arg = action.partition(":")
        left = max(0.0, deadline - time.monotonic())
        if kind in ("wait-stdout", "wait-stderr"):
            name = kind[5:]
            want = unescape(arg).encode()
            if name not in self.streams:
                die(2, "%s needs --%s" % (kind, name))
            if not self.wait_for(lambda: want in self.streams[name]["buf"] or
                                 self.streams[name]["done"], left):
                die(4, "timeout waiting for %r on %s" % (want, name))
            if want not in self.streams[name]["buf"]:
                die(3, "%s ended without %r (got %r)" % (name, want, self.streams[name]["buf"]))
        elif kind == "stdin":
            self.send(dict(source=0, data=unescape(arg)))
        elif kind == "eof":
            self.send(dict(source=0))
        elif kind == "signal":
            self.send(dict(signal=int(arg)))
        elif kind == "resize":
            c, r = arg.split("x")
            self.send(dict(tty=dict(window_size=dict(columns=int(c), rows=int(r)))))
        elif kind == "sleep":
            time.sleep(float(arg))
        elif kind == "touch":
            open(arg, "ab").close()
        elif kind == "disconnect":
            self.disconnect()
        else:
            die(2, "unknown action %r" % action)

    def summary(self, status, head, first):
        out = dict(status=status, head=head, first=first, payloads=self.payloads[:],
                   exit_status=self.exit_status, error=self.error,
                   control_eof=self.control_eof, disconnected=self.disconnected,
                   stream_status=self.stream_status)
        for name, st in self.streams.items():
            out[name + "_bytes"] = st["bytes"]
            if st["file"] is None:
                out[name] = st["buf"].decode("utf-8", errors="replace")
        return out

    def go(self, method, path, body):
        deadline = time.monotonic() + self.opts.timeout
        try:
            ctype = "application/json" if body is not None else None
            s, status, headers, head, rest = hijack(self.sock_path, method, path, body, ctype)
        except ErrorAnswer as e:
            print(json.dumps(dict(status=e.status, body=e.body.decode("utf-8", "replace"))))
            return 0
        self.control = s
        # The first payload: {"process_id":…,"stream_id":…}.
        while b"\n" not in rest:
            c = s.recv(65536)
            if not c:
                raise ProtocolError("control connection closed before the first payload")
            rest += c
        line, rest = rest.split(b"\n", 1)
        first = json.loads(line)
        if not isinstance(first.get("process_id"), str) or not first["process_id"]:
            raise ProtocolError("first payload without process_id: %r" % line)
        if not isinstance(first.get("stream_id"), str) or not first["stream_id"]:
            raise ProtocolError("first payload without stream_id: %r" % line)
        self.pid = first["process_id"]
        self.open_streams(first["stream_id"])
        threading.Thread(target=self.control_reader, args=(rest,), daemon=True).start()
        if self.opts.stdin:
            threading.Thread(target=self.stdin_writer, args=(self.opts.stdin,),
                             daemon=True).start()
        actions = list(self.opts.then)
        if self.opts.detach:
            actions.insert(0, "disconnect")
        for a in actions:
            self.run_action(a, deadline)
            if self.disconnected:
                for st in self.streams.values():
                    if st["file"]:
                        st["file"].close()
                print(json.dumps(self.summary(status, head, first)))
                return 0
        ok = self.wait_for(lambda: self.control_done and
                           all(st["done"] for st in self.streams.values()),
                           max(0.0, deadline - time.monotonic()))
        if not ok:
            die(4, "timeout: exit=%r streams=%r" % (
                self.exit_status, {k: v["done"] for k, v in self.streams.items()}))
        for st in self.streams.values():
            if st["file"]:
                st["file"].close()
        print(json.dumps(self.summary(status, head, first)))
        return 0


class Opts:
    def __init__(self):
        self.stdout = None
        self.stderr = None
        self.stdin = None
        self.then = []
        self.detach = False
        self.timeout = 60.0


def parse_opts(args):
    o = Opts()
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--stdout", "--stderr", "--stdin", "--then", "--timeout"):
            if i + 1 >= len(args):
                die(2, "%s needs a value" % a)
            v = args[i + 1]
            if a == "--then":
                o.then.append(v)
            elif a == "--timeout":
                o.timeout = float(v)
            else:
                setattr(o, a[2:], v)
            i += 2
        elif a == "--detach":
            o.detach = True
            i += 1
        else:
            die(2, "unknown option %r" % a)
    return o


def main(argv):
    if len(argv) < 3:
        die(2, "usage: garden_client.py SOCK run|attach|stream ...")
    sock, cmd, rest = argv[1], argv[2], argv[3:]
    try:
        if cmd == "run" and len(rest) >= 2:
            handle, spec = rest[0], rest[1]
            json.loads(spec)
            sess = Session(sock, handle, parse_opts(rest[2:]))
            return sess.go("POST", "/containers/%s/processes" % handle,
                           spec.encode() + b"\n")
        if cmd == "attach" and len(rest) >= 2:
            handle, pid = rest[0], rest[1]
            sess = Session(sock, handle, parse_opts(rest[2:]))
            return sess.go("GET", "/containers/%s/processes/%s" % (handle, pid), None)
        if cmd == "stream" and len(rest) == 4:
            handle, pid, sid, name = rest
            path = "/containers/%s/processes/%s/attaches/%s/%s" % (handle, pid, sid, name)
            s, status, headers, head, data = hijack(sock, "GET", path,
                                                    content_type="application/json")
            out = sys.stdout.buffer
            while data:
                out.write(data)
                data = s.recv(1 << 20)
            out.flush()
            return 0
    except ProtocolError as e:
        die(3, "protocol violation: %s" % e)
    except ErrorAnswer as e:
        print(json.dumps(dict(status=e.status, body=e.body.decode("utf-8", "replace"))))
        return 0
    die(2, "usage: garden_client.py SOCK run HANDLE SPEC | attach HANDLE PID | "
           "stream HANDLE PID SID NAME")
    return 2


if __name__ == "__main__":
    try:
        rc = main(sys.argv)
    except (ConnectionError, FileNotFoundError) as e:
        die(1, str(e))
    sys.stdout.flush()
    # Daemon threads may still sit in recv(); leave without waiting for them.
    os._exit(rc)
