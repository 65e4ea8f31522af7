"""`finterm ui`: make sure there is an index, then serve ui/app.py with Streamlit (loopback by default).

The index is built (with a progress bar) before Streamlit starts, so the first page load is not a
silent multi-minute wait; the app learns which index to serve from `FINTERM_INDEX`.

The server never outlives `finterm ui`: SIGINT (Ctrl+C), SIGTERM or SIGHUP to finterm is passed on to
it at once (it runs in its own process group, so it is told exactly once), and on Linux the child
asks the kernel (prctl PR_SET_PDEATHSIG) for SIGTERM when its parent dies, even by SIGKILL, so no
orphan keeps listening on the port.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path

from finterm import FintermError

APP = Path(__file__).with_name("app.py")
INDEX_ENV = "FINTERM_INDEX"  # how the app learns which index to serve


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def has_display() -> bool:
    """Whether a browser window can be opened here (a desktop session, not a server or container)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def streamlit_command(host: str, port: int, *, open_browser: bool = False) -> list[str]:
    """The command line that serves the app: no Deploy button or developer menu (toolbarMode minimal),
    no usage statistics, and a browser window only when asked."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host,
            "--server.port", str(port), "--server.headless", "false" if open_browser else "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: its own process group, and SIGTERM when the parent dies (Linux)."""
    os.setpgid(0, 0)  # its own process group: a terminal's Ctrl+C reaches finterm, which passes it on
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def launch(host: str = "127.0.0.1", port: int = 8501, index: str | Path | None = None,
           open_browser: bool | None = None) -> int:
    """Serve the app on host:port for `index` (default: the bundled glossary's index, built if missing).

    `open_browser` None opens a browser window only where a desktop session exists. Returns
    Streamlit's exit status; Ctrl+C or SIGTERM stops the server cleanly.
    """
    from finterm.api import ensure_default_index

    if not 1 <= port <= 65535:
        raise FintermError(f"port {port} is out of range; use a port from 1 to 65535, e.g. --port 8501")
    if index:
        path = Path(index)
        if not (path / "manifest.json").is_file():
            raise FintermError(f"no index at {index}; build it with `finterm index --out {index} [FILES…]`")
    else:
        path = ensure_default_index(progress=True)
    if not _is_loopback(host):
        print(f"finterm: warning: serving on {host}, so other machines can reach the app", file=sys.stderr)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(f"\n  finterm 앱 주소:  {url}\n  (index {path}; Ctrl+C로 멈춥니다)\n", file=sys.stderr)
    env = {**os.environ, INDEX_ENV: str(path.resolve())}
    parent = os.getpid()
    browser = has_display() if open_browser is None else open_browser
    proc = subprocess.Popen(streamlit_command(host, port, open_browser=browser), env=env,
                            preexec_fn=lambda: _die_with_parent(parent))
    return serve(proc)


STOP_GRACE_S = 10  # how long a signalled server may take to stop before it is killed


def serve(proc: subprocess.Popen) -> int:
    """Wait for the server `proc`; SIGINT, SIGTERM or SIGHUP to finterm is passed on to it at once.

    The server runs in its own process group, so Ctrl+C in a terminal reaches finterm alone and
    finterm tells the server exactly once (`kill -INT`/`-TERM PID` the same way). A server that has
    not stopped STOP_GRACE_S seconds later, or a second signal, kills it. Returns its exit status.
    """
    import time

    asked: list[float] = []

    def stop(signum, _frame) -> None:
        if proc.poll() is not None:
            return
        if asked:  # a second Ctrl+C: do not wait any longer
            proc.kill()
            return
        asked.append(time.monotonic())
        proc.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    handled = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {sig: signal.signal(sig, stop) for sig in handled}
    try:
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > STOP_GRACE_S:
                    proc.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # finterm itself is failing: never leave the server behind
            proc.kill()
            proc.wait()
