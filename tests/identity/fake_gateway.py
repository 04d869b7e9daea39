"""A local stand-in for the real-name and SMS gateways: a real HTTP server on 127.0.0.1.

Tests either script the next answers (status, JSON or raw bytes, optional delay) or let it behave
like a gateway: check the signature (401 if bad), then answer a real-name request with "match" for
张三 and "mismatch" for anyone else, and an SMS request (path ``/sms``) with a message id.
"""

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from identity.gateway import verify_signature


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    json: dict | None = None
    raw: bytes | None = None
    delay: float = 0.0
    headers: dict | None = None


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict  # lower-case names
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class FakeGateway:
    def __init__(self, *, app_id: str, secret: str):
        self.app_id = app_id
        self.secret = secret
        self.requests: list[Received] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/realname") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def configure(self, settings, prefix: str, path: str, *, timeout: float = 2):
        """Point the ``<prefix>_URL/_APP_ID/_SECRET/_TIMEOUT`` settings at this server."""
        values = {"URL": self.url(path), "APP_ID": self.app_id, "SECRET": self.secret, "TIMEOUT": timeout}
        for name, value in values.items():
            setattr(settings, f"{prefix}_{name}", value)

    def script(
        self,
        *,
        status: int = 200,
        json: dict | None = None,
        raw: bytes | None = None,
        delay: float = 0.0,
        headers: dict | None = None,
    ):
        """Queue the answer to the next request; unscripted requests get the default behaviour."""
        self._script.append(Scripted(status, json, raw, delay, headers))

    def start(self) -> "FakeGateway":
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()  # wakes handlers still "delaying" so they end with the server
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, headers: dict, body: bytes) -> Scripted:
        signature_ok = self.app_id == headers.get("x-app-id") and verify_signature(
            self.secret,
            headers.get("x-timestamp", ""),
            headers.get("x-nonce", ""),
            body,
            headers.get("x-signature", ""),
        )
        with self._lock:
            self.requests.append(Received(path, headers, body, signature_ok))
            number = len(self.requests)
            if self._script:
                return self._script.popleft()
        if not signature_ok:
            return Scripted(401, {"error": "bad signature"})
        if path == "/sms":
            return Scripted(200, {"message_id": f"m-{number}"})
        name = json.loads(body).get("name")
        return Scripted(200, {"result": "match" if name == "张三" else "mismatch", "request_id": f"r-{number}"})

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def closed_port_url(path: str) -> str:
    """A URL on which nothing listens: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _handler_for(gateway: FakeGateway):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            scripted = gateway.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if scripted.delay:
                gateway.wait(scripted.delay)
            content = scripted.raw if scripted.raw is not None else json.dumps(scripted.json or {}).encode()
            try:
                self.send_response(scripted.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                for name, value in (scripted.headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test); nothing to answer

        def log_message(self, format, *args):
            pass

    return Handler
