"""Child processes for the browser test, and waiting for them.

Each child starts in a session of its own, so its pid is its process group id: stopping
the group reaches every process `dagster dev` spawns (webserver, daemon, code server, run
workers), and any descendant that left the group is killed by pid. Nothing is looked up
by name: only what this test started is stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, probe: Callable[[], Any], timeout: float, logs: list[Path]) -> Any:
    """Poll `probe` until it returns something truthy; fail naming the logs to read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError, KeyError, TypeError, ValueError):
            value = probe()
            if value:
                return value
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s; see {', '.join(map(str, logs))}")


@dataclass
class Process:
    """A child started in its own session: its pid is its process group id."""

    name: str
    popen: subprocess.Popen
    log: Path
    #: SIGINT lets `dagster dev` stop its webserver, daemon and code server; the simulator
    #: has nothing to save and would wait for open keep-alive connections: SIGTERM.
    stop_signal: int = signal.SIGINT

    def stop(self, grace: float = 15.0) -> None:
        """Signal the group, then SIGKILL whatever of the group or of its descendants (a
        child that left the group) is still alive."""
        try:
            descendants = psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, self.stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(5)
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(descendants, timeout=5)
