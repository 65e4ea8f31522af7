"""Helpers for the serving tests: free ports, real server processes, waiting until they answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    """Until GET `url` answers 200; fails with the server's log if it dies or takes too long."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"server at {url} did not start in {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@contextmanager
def running(cmd: list[str], health: str, log: Path, env: dict | None = None, timeout: float = 180.0):
    """Start `cmd` in its own process group, wait for `health`, yield the process, then kill it."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                start_new_session=True)
    try:
        wait_for(health, proc, log, timeout)
        yield proc
    finally:
        stop(proc)


def transformers_serve_cmd(model_dir: Path, port: int, python: str = sys.executable) -> list[str]:
    """`transformers serve MODEL_DIR` with this interpreter (the console script's shebang may be another's)."""
    return [python, "-c", "from transformers.cli.transformers import main; main()", "serve", str(model_dir),
            "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
