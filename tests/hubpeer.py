"""A loopback stand-in for the Hugging Face Hub's upload API (whoami, repo create, tree, preupload, LFS
batch + PUT, commit), enough for the real `huggingface_hub` client; it records every call and can fail
the Nth commit to test resumption."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler

from tests.loopback import Loopback


class HubPeer(Loopback):
    def __init__(self, token: str = "hf_test", fail_commit: int | None = None):
        self.token, self.fail_commit = token, fail_commit
        self.calls: list[tuple[str, str]] = []
        self.files: dict[str, dict] = {}  # path -> {"sha256", "size", "lfs"}
        self.lfs: dict[str, bytes] = {}
        self.commits = 0
        self.lock = threading.Lock()
        peer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def send(self, code: int, obj=None, raw: bytes | None = None):
                data = raw if raw is not None else json.dumps(obj if obj is not None else {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def authed(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {peer.token}":
                    self.send(401, {"error": "Invalid credentials"})
                    return False
                return True

            def do_GET(self):
                path = self.path.split("?")[0]
                with peer.lock:
                    peer.calls.append(("GET", path))
                if not self.authed():
                    return
                if path == "/api/whoami-v2":
                    return self.send(
                        200, {"type": "user", "name": "tester", "auth": {"accessToken": {"role": "write"}}}
                    )
                if re.match(r"/api/datasets/.+/tree/", path):
                    entries = [
                        {
                            "type": "file",
                            "path": p,
                            "oid": f["blob_id"],
                            "size": f["size"],
                            **(
                                {"lfs": {"oid": f["sha256"], "size": f["size"], "pointerSize": 130}} if f["lfs"] else {}
                            ),
                        }
                        for p, f in sorted(peer.files.items())
                    ]
                    return self.send(200, entries)
                return self.send(404, {"error": "not found"})

            def do_POST(self):
                path = self.path.split("?")[0]
                data = self.body()
                with peer.lock:
                    peer.calls.append(("POST", path))
                if not self.authed():
                    return
                if path == "/api/validate-yaml":
                    return self.send(200, {"errors": [], "warnings": []})
                if path == "/api/repos/create":
                    body = json.loads(data)
                    port = self.server.server_address[1]
                    return self.send(
                        200,
                        {"url": f"http://127.0.0.1:{port}/datasets/{body.get('organization', 'org')}/{body['name']}"},
                    )
                if re.match(r"/api/datasets/.+/preupload/", path):
                    files = json.loads(data)["files"]
                    return self.send(
                        200,
                        {
                            "files": [
                                {
                                    "path": f["path"],
                                    "uploadMode": "lfs" if f["size"] > 1024 else "regular",
                                    "shouldIgnore": False,
                                }
                                for f in files
                            ]
                        },
                    )
                if path.endswith(".git/info/lfs/objects/batch"):
                    objs = json.loads(data)["objects"]
                    port = self.server.server_address[1]
                    out = [
                        {
                            "oid": o["oid"],
                            "size": o["size"],
                            **(
                                {}
                                if o["oid"] in peer.lfs
                                else {"actions": {"upload": {"href": f"http://127.0.0.1:{port}/lfs-upload/{o['oid']}"}}}
                            ),
                        }
                        for o in objs
                    ]
                    return self.send(200, {"transfer": "basic", "objects": out})
                if re.match(r"/api/datasets/.+/commit/", path):
                    with peer.lock:
                        peer.commits += 1
                        if peer.fail_commit is not None and peer.commits == peer.fail_commit:
                            return self.send(500, {"error": "injected commit failure"})
                    for line in data.decode().splitlines():
                        op = json.loads(line)
                        v = op.get("value", {})
                        if op["key"] == "file":
                            content = base64.b64decode(v["content"])
                            self.store(v["path"], content, lfs=False)
                        elif op["key"] == "lfsFile":
                            self.store(v["path"], peer.lfs[v["oid"]], lfs=True)
                    repo = re.match(r"/api/datasets/(.+)/commit/", path).group(1)
                    port = self.server.server_address[1]
                    return self.send(
                        200,
                        {
                            "commitUrl": f"http://127.0.0.1:{port}/datasets/{repo}/commit/{peer.commits:040x}",
                            "commitOid": f"{peer.commits:040x}",
                            "pullRequestUrl": None,
                        },
                    )
                return self.send(404, {"error": "not found"})

            def store(self, path: str, content: bytes, lfs: bool):
                with peer.lock:
                    peer.files[path] = {
                        "sha256": hashlib.sha256(content).hexdigest(),
                        "size": len(content),
                        "lfs": lfs,
                        "blob_id": hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest(),
                    }

            def do_PUT(self):
                path = self.path.split("?")[0]
                data = self.body()
                with peer.lock:
                    peer.calls.append(("PUT", path))
                    if path.startswith("/lfs-upload/"):
                        peer.lfs[path.rsplit("/", 1)[1]] = data
                self.send(200, {})

        self._serve(H)
