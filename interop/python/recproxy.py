"""A recording reverse proxy on loopback, for interop/python/check.py (standard library only).

Every request a client sends to `proxy.url` is forwarded unchanged (method, path, query,
headers in order, `Host` included so signatures still verify, body) to the emulator, and
the emulator's answer is returned unchanged (its `Date` included: clients may judge the
expiry of credentials by the service's clock). Each exchange is recorded, so a check can see
what a client really put on the wire and in which order: the official SDK's metadata and
pod-identity requests use `requests` directly and our client is a separate process, so
neither can be observed from inside.

A scenario may give `script(index, exchange)`, called before forwarding with the index of
this exchange (0-based) and the request recorded so far; when it returns `(status, content_type, body)` the
proxy answers that itself instead (recorded with `scripted=True`), so a test can make the
metadata service answer 404 or a stale-token 401 while the emulator serves the rest.
"""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "content-length",
}


class Exchange:
    """One request as the client sent it and the answer it got."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        self.path = urlsplit(target).path
        self.headers = headers  # [(name, value)] in the order sent
        self.body = body
        self.status = None
        self.resp_headers = []
        self.resp_body = b""
        self.scripted = False

    def header(self, name):
        """The values of a request header (case-insensitive), in order."""
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def one_header(self, name):
        """The single value of a request header, or None when absent or repeated."""
        values = self.header(name)
        return values[0] if len(values) == 1 else None

    def text(self):
        return self.resp_body.decode("utf-8", "replace")


class RecordingProxy:
    def __init__(self, upstream, script=None):
        parts = urlsplit(upstream)
        if parts.scheme != "http":
            raise ValueError("the proxy forwards to http:// only: %s" % upstream)
        self._upstream = (parts.hostname, parts.port or 80)
        self._script = script
        self._lock = threading.Lock()
        self._exchanges = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet: check.py prints what matters
                pass

            def _read_body(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self):
                ex = Exchange(self.command, self.path, list(self.headers.items()),
                              self._read_body())
                with proxy._lock:
                    index = len(proxy._exchanges)
                    proxy._exchanges.append(ex)
                canned = proxy._script(index, ex) if proxy._script else None
                if canned is not None:
                    status, ctype, body = canned
                    ex.scripted = True
                    ex.status = status
                    ex.resp_headers = [("Content-Type", ctype)]
                    ex.resp_body = body.encode() if isinstance(body, str) else body
                else:
                    try:
                        self._forward(ex)
                    except Exception as e:  # the emulator did not answer: a 502 says so
                        ex.status = 502
                        ex.resp_headers = [("Content-Type", "text/plain")]
                        ex.resp_body = ("recproxy: upstream failed: %s: %s"
                                        % (type(e).__name__, e)).encode()
                self.send_response_only(ex.status)
                # Date and Server too (send_response_only adds neither): a client may judge
                # the expiry of credentials by the service's Date, so it must get the
                # emulator's, unchanged.
                for k, v in ex.resp_headers:
                    if k.lower() not in _HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(ex.resp_body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(ex.resp_body)
                self.wfile.flush()

            def _forward(self, ex):
                conn = http.client.HTTPConnection(*proxy._upstream, timeout=15)
                try:
                    conn.putrequest(ex.method, ex.target, skip_host=True,
                                    skip_accept_encoding=True)
                    had_length = False
                    for k, v in ex.headers:
                        if k.lower() == "content-length":
                            had_length = True
                        if k.lower() not in _HOP_BY_HOP:
                            conn.putheader(k, v)
                    if had_length or ex.body:
                        conn.putheader("Content-Length", str(len(ex.body)))
                    conn.endheaders(ex.body or None)
                    resp = conn.getresponse()
                    ex.resp_body = resp.read()
                    ex.status = resp.status
                    ex.resp_headers = list(resp.getheaders())
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]

    @property
    def exchanges(self):
        with self._lock:
            return list(self._exchanges)

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
