"""A market API answer that trickles in cannot hold a call past its deadline: the whole read is bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.clock import Deadline
from engine.errors import MarketDataUnavailable
from engine.market.polymarket import PolymarketClient

BODY = b"[" + b" " * 4000 + b"]"


class _Trickle(BaseHTTPRequestHandler):
    """Answers 200 at once, then sends its JSON body a byte every 20 ms (80 s in all)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        try:
            for byte in BODY:
                if self.server.stopping.is_set():  # type: ignore[attr-defined]
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def trickling_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


def test_a_trickling_answer_cannot_hold_a_call_past_its_deadline(trickling_url: str) -> None:
    # Given an API that answers at once but sends its body a byte at a time, and a client whose own
    # per-attempt timeout is long (each socket read returns quickly, so a per-read timeout never fires)
    client = PolymarketClient(trickling_url, trickling_url, timeout_seconds=10, retries=2, backoff_seconds=0)
    started = time.monotonic()

    # When a call is bounded by a 1 s deadline
    with pytest.raises(MarketDataUnavailable, match="timed out") as raised:
        client.list_markets(active_only=True, max_markets=10, deadline=Deadline(1.0))

    # Then it gave up in time
    assert time.monotonic() - started < 2.0
    assert "Gamma GET /markets" in str(raised.value)


def test_a_trickling_answer_cannot_outlast_the_clients_own_attempt_timeout(trickling_url: str) -> None:
    # Given the same API, a long deadline and a 0.3 s attempt timeout with one retry
    client = PolymarketClient(trickling_url, trickling_url, timeout_seconds=0.3, retries=1, backoff_seconds=0)
    started = time.monotonic()

    # When a call is made
    with pytest.raises(MarketDataUnavailable, match="timed out"):
        client.get_book("123", deadline=Deadline(30))

    # Then both attempts were cut at their timeout
    assert time.monotonic() - started < 1.5
