"""What the benchmarks that run the service in a subprocess share: a free port, waiting for it."""

from __future__ import annotations

import socket
import subprocess
import time

__all__ = ["free_port", "wait_until_up"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(port: int, server: subprocess.Popen[bytes], *, what: str = "the service") -> None:
    """Wait (30 s at most) until ``server`` listens on ``port``.

    Raises:
        RuntimeError: it exited first, or did not listen in time.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{what} exited before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen within 30 s")
