"""The lifecycle every loopback test server shares: a threaded HTTP server on 127.0.0.1 with a free port,
started by `with`, shut down and closed on exit."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a client opening 16 connections at once overflows it, and the
    # dropped handshake is retried a second later (a 1.2-s request at 100-ms latency; bench_eval saw them as
    # TcpExtListenOverflows). Real servers queue far more (uvicorn 2048; the kernel caps it at somaxconn).
    request_queue_size = 1024


class Loopback:
    def _serve(self, handler) -> None:
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
