"""A webhook receiver on 127.0.0.1 for the local stack and the demo: records each alert and checks its
signature with the secret it is given (what an owner's endpoint does). Plain HTTP: local use only."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from engine.services.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify


@dataclass
class ReceivedAlert:
    alert: dict[str, Any]
    idempotency_id: str
    signature_ok: bool


@dataclass
class WebhookSink:
    """Start with `with WebhookSink() as sink:`; set `secret` once the webhook is registered."""

    path: str = "/autopilot-alerts"
    secret: str = ""
    received: list[ReceivedAlert] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the sink first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def start(self) -> WebhookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                # the stack's clock may run fast: check the MAC, not the stamp's age
                stamp = self.headers.get(SIGNATURE_HEADER, "")
                t = next((p[2:] for p in stamp.split(",") if p.startswith("t=")), "0")
                ok = verify(sink.secret, body, stamp, now=int(t) if t.isdigit() else int(time.time()))
                with sink._lock:
                    sink.received.append(
                        ReceivedAlert(json.loads(body), self.headers.get(IDEMPOTENCY_HEADER, ""), ok)
                    )
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
