"""Local stand-ins for the outside world of the fault suite: a webhook receiver and an SMS gateway on loopback.

Both are real HTTP servers in the test process, so that the worker processes reach them over TCP as they
reach the real ones, and both can hold a request open while the test kills the worker that sent it.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from identity.gateway import verify_signature
from tests.faults.stack import free_port


class Receiver:
    """A webhook receiver that records every delivery; it can hold the first one open, or be down.

    `mode` is "up" (204), "503" (answers 503) or "reset" (drops the connection without an answer, as a
    receiver whose process is gone). A process without access to this object switches it with
    `GET /mode/<mode>` (the fault suite's simulated-time driver does).
    """

    def __init__(self, hold_first: bool = False):
        self.received: list[str] = []  # webhook-id of every delivery attempt that reached the receiver
        self.acknowledged: list[str] = []  # webhook-id of every attempt answered 2xx, in order
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.hold_first = hold_first
        self.mode = "up"
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event_id = self.headers["webhook-id"]
                with receiver.lock:
                    receiver.received.append(event_id)
                    mode = receiver.mode
                if mode == "reset":
                    self.close_connection = True
                    return
                if mode != "up":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                first = not receiver.first_arrived.is_set()
                receiver.first_arrived.set()
                if first and receiver.hold_first:
                    receiver.release.wait(30)  # the worker is killed while it waits for this answer
                with receiver.lock:
                    receiver.acknowledged.append(event_id)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                receiver.mode = self.path.rsplit("/", 1)[-1]
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def control_url(self):
        return f"http://127.0.0.1:{self.port}/mode"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class SmsGateway:
    """A signed-JSON SMS gateway (the contract of identity.gateway) that dedupes on `idempotency_key`.

    As real gateways do, a second request with a key it has seen returns the first message's id and texts
    nobody. `texted` lists the messages that went to a phone; `requests` every request that arrived.
    It can hold the first request open, after it has accepted the message, while the test kills the sender.
    """

    APP_ID = "faults-sms"
    SECRET = "faults-sms-secret"

    def __init__(self, hold_first: bool = False):
        self.requests: list[dict] = []
        self.texted: list[dict] = []
        self.by_key: dict[str, str] = {}
        self.bad_signatures = 0
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self.hold_first = hold_first
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                signed = self.headers.get("X-App-Id") == gateway.APP_ID and verify_signature(
                    gateway.SECRET,
                    self.headers.get("X-Timestamp", ""),
                    self.headers.get("X-Nonce", ""),
                    body,
                    self.headers.get("X-Signature", ""),
                )
                if not signed:
                    with gateway.lock:
                        gateway.bad_signatures += 1
                    self.answer(401, {"error": "bad signature"})
                    return
                message = json.loads(body)
                key = message.get("idempotency_key", "")
                with gateway.lock:
                    gateway.requests.append(message)
                    message_id = gateway.by_key.get(key) if key else None
                    if message_id is None:
                        message_id = f"sms-{len(gateway.texted) + 1}"
                        gateway.texted.append(message)
                        if key:
                            gateway.by_key[key] = message_id
                first = not gateway.first_arrived.is_set()
                gateway.first_arrived.set()
                if first and gateway.hold_first:
                    gateway.release.wait(30)  # accepted and texted; the sender dies before it hears back
                self.answer(200, {"message_id": message_id})

            def answer(self, status: int, payload: dict):
                content = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def settings(self) -> dict:
        """The environment that points production's HTTP SMS backend at this gateway."""
        return {
            "SMS_BACKEND": "identity.sms.HttpSmsBackend",
            "SMS_HTTP_URL": f"http://127.0.0.1:{self.port}/sms",
            "SMS_HTTP_APP_ID": self.APP_ID,
            "SMS_HTTP_SECRET": self.SECRET,
            "SMS_HTTP_TIMEOUT": "3",
        }

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
