"""issue 15 item 9: stopping `finterm ui` with SIGINT or SIGTERM stops the Streamlit server it started.

Real processes: `finterm ui` on a free loopback port with the small test index, a signal sent the
way a user would send it (`kill -INT/-TERM PID` to finterm alone, or Ctrl+C in a terminal, which
reaches the whole process group), then the port must close, the Streamlit child must be gone and
finterm must exit — promptly, not after a grace period of waiting for a child that was never told.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")]

STOP_WITHIN_S = 8  # the launcher waits 10 s for a child that ignored the signal; a fix stops well before


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as c:
        c.settimeout(0.5)
        return c.connect_ex(("127.0.0.1", port)) == 0


def healthy(port: int) -> bool:
    """Streamlit has finished starting (its health check answers), not only opened the port: a signal
    during its own start-up makes Streamlit print a traceback of its own (a race inside Streamlit)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie (a zombie no longer holds a port or does anything)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["SIGINT to finterm", "SIGTERM to finterm", "Ctrl+C to the group"])
def test_a_signal_to_finterm_ui_stops_its_streamlit_server(small_index, tmp_path, how):
    port = free_port()
    env = {**os.environ, "FINTERM_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    log = open(tmp_path / "ui.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "finterm.cli", "ui", "--index", str(small_index),
                             "--port", str(port), "--no-browser"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the server never started (exit {proc.poll()}):\n{log.read()}")
            time.sleep(0.3)
        kids = children(proc.pid)
        assert len(kids) == 1 and alive(kids[0])  # the Streamlit server
        if how == "Ctrl+C to the group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT if how.startswith("SIGINT") else signal.SIGTERM)
        t0 = time.monotonic()
        code = proc.wait(timeout=60)
        took = time.monotonic() - t0
        log.seek(0)
        output = log.read()
        assert not alive(kids[0]), f"Streamlit outlived finterm ui:\n{output}"
        assert not listening(port), f"the port is still open:\n{output}"
        assert took < STOP_WITHIN_S, f"finterm ui took {took:.1f} s to stop:\n{output}"
        assert "Traceback" not in output, output
        assert code in (0, 130, -signal.SIGINT, 143, -signal.SIGTERM), output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
