"""A loopback HTTP server for ingest tests: serves real mp4s with or without Range support and injects
faults per YTID (404, N x 500 then success, N x 429, slow, truncated body). `requests` logs every request's
arrival (time.monotonic(), YTID), for tests of request pacing."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.loopback import Loopback


class FaultServer(Loopback):
    def __init__(self, root: Path, faults: dict[str, str] | None = None, ranges: bool = True, delay: float = 0.0):
        self.root, self.faults, self.ranges, self.delay = Path(root), dict(faults or {}), ranges, delay
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self.handle_req(head=True)

            def do_GET(self):
                self.handle_req(head=False)

            def handle_req(self, head: bool):
                arrived = time.monotonic()
                name = self.path.lstrip("/").split("?")[0]
                ytid = name.rsplit(".", 1)[0]
                with server.lock:
                    server.requests.append((arrived, ytid))
                    n = server.hits[ytid] = server.hits.get(ytid, 0) + 1
                fault = server.faults.get(ytid, "")
                if server.delay:
                    time.sleep(server.delay)
                if fault == "404" or not (server.root / name).is_file():
                    return self.reply(404)
                m = re.fullmatch(r"(500|429)x(\d+)", fault)
                if m and n <= int(m.group(2)):
                    return self.reply(int(m.group(1)))
                if fault == "slow":
                    time.sleep(30)
                data = (server.root / name).read_bytes()
                start, end, code = 0, len(data) - 1, 200
                rng = self.headers.get("Range")
                if server.ranges and rng and (r := re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())):
                    start = int(r.group(1) or 0)
                    end = min(int(r.group(2)) if r.group(2) else end, len(data) - 1)
                    code = 206
                body = data[start : end + 1]
                self.send_response(code)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                if server.ranges:
                    self.send_header("Accept-Ranges", "bytes")
                if code == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                if head:
                    return
                if fault == "trunc":  # promise the whole body, send a third, hang up
                    body = body[: len(body) // 3]
                    self.close_connection = True
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def reply(self, code: int):
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._serve(Handler)

    def first_requests(self) -> list[float]:
        """When each YTID was first asked for, in order: the starts of its downloads."""
        with self.lock:
            first: dict[str, float] = {}
            for t, ytid in self.requests:
                first.setdefault(ytid, t)
        return sorted(first.values())

    @property
    def url_template(self) -> str:
        return f"{self.url}/{{ytid}}.mp4"
