"""The lifecycle every loopback test server shares: a threaded HTTP server on 127.0.0.1 with a free port,
started by `with`, shut down and closed on exit."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class Loopback:
    def _serve(self, handler) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
