"""moto's server as its own process on 127.0.0.1 (DynamoDB, streams, SQS, SNS), started, awaited and always
stopped: terminate then wait, kill if it lingers, on stop(), at interpreter exit, and (Linux) when the parent
dies without cleaning up, so no `moto_server` outlives the stack."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # SIGTERM the child if the parent process dies (even by SIGKILL): nothing is left behind
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_ROOT = Path(__file__).resolve().parent.parent  # the project: `local.moto_server` imports from any cwd


class MotoProcess:
    """`python -m local.moto_server -H 127.0.0.1 -p <port>` (moto's server with local.moto_speedups); port 0
    picks a free port."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        module: str = "local.moto_server",
    ) -> None:
        self.module = module  # the server's module: moto's own, or a wrapper that patches it first
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 30.0) -> MotoProcess:
        if self._process is not None:
            return self
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        output: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, "-H", self.host, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p),
            },
        )
        atexit.register(self.stop)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"moto_server exited with code {self._process.returncode} (port {self.port} taken?); "
                    f"see {self.log_path or 'its output'}"
                )
            try:
                # moto's own API answers once the server dispatches requests
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError(f"moto_server did not answer on {self.url} within {timeout:.0f}s")

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        atexit.unregister(self.stop)
