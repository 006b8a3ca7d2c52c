#!/usr/bin/env python3
"""Run Orderline's web server, Celery worker and Celery beat together (``make run``).

Standard library only. Each process's output is printed with a coloured name in front.
Ctrl-C (SIGINT) or SIGTERM stops all three cleanly; if one of them dies, the others are
stopped and this script exits non-zero.

Environment:
    PORT                          web port (default 8000)
    ORDERLINE_HOST                address to bind (default 127.0.0.1)
    ORDERLINE_WEB                 "runserver" (default, development) or "gunicorn"
    ORDERLINE_WORKER_CONCURRENCY  Celery worker processes (default 2)
    ORDERLINE_WORKER_POOL         Celery pool (default prefork; "solo" and "threads" work too)
    ORDERLINE_STOP_TIMEOUT        seconds to wait for a clean stop before killing (default 20)
    ORDERLINE_VAR_DIR             where var/demo-logins.txt is read from (default ./var)
    NO_COLOR / FORCE_COLOR        turn the coloured names off / on
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

FALLBACK_LOGINS = """\
manager / orderline-demo
(one demo user per role, all with the password orderline-demo; run `make seed` to create them)"""

COLOURS = {"web": "32", "worker": "36", "beat": "35", "run": "1;33"}


def _use_colour() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


USE_COLOUR = _use_colour()
NAME_WIDTH = max(len(n) for n in COLOURS)


def paint(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if USE_COLOUR else text


def prefix(name: str) -> bytes:
    return (paint(name.ljust(NAME_WIDTH), COLOURS.get(name, "1")) + " | ").encode()


def emit(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except (BrokenPipeError, ValueError):
        pass  # nobody is reading any more; keep supervising anyway


def say(message: str) -> None:
    for line in message.splitlines() or [""]:
        emit(prefix("run") + line.encode() + b"\n")


# --- child processes ---------------------------------------------------------------------

_libc = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, TypeError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
PR_SET_PDEATHSIG = 1
_PARENT_PID = os.getpid()


def _child_setup() -> None:
    """Runs in the child between fork and exec: its own process group (so a terminal's Ctrl-C
    reaches only this launcher, which then stops each child in order), and on Linux a
    SIGTERM to the child if this launcher dies without cleaning up (e.g. SIGKILL)."""
    os.setsid()
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != _PARENT_PID:  # the launcher died before prctl took effect
            os._exit(1)


@dataclass
class Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    buffer: bytes = b""
    returncode: int | None = None
    open_pipe: bool = True
    term_sent: bool = False

    @property
    def alive(self) -> bool:
        return self.returncode is None

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own fixed commands
            self.cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup,  # the launcher is single-threaded, so this is safe
        )
        os.set_blocking(self.proc.stdout.fileno(), False)

    def terminate(self) -> None:
        """Ask the main process to stop (Celery: warm shutdown; gunicorn: graceful)."""
        if self.alive and not self.term_sent:
            self.term_sent = True
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def poll(self) -> int | None:
        if self.alive:
            code = self.proc.poll()
            if code is not None:
                self.returncode = code
                # Anything left in its group (stray pool processes) goes with it.
                self.kill_group()
        return self.returncode


def build_children(host: str, port: str) -> list[Child]:
    web_kind = os.environ.get("ORDERLINE_WEB", "runserver").strip().lower()
    if web_kind == "gunicorn":
        web = [
            PYTHON, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"{host}:{port}",
            "--access-logfile", "-",
            "--graceful-timeout", "10",
        ]  # fmt: skip
    elif web_kind == "runserver":
        web = [PYTHON, "manage.py", "runserver", f"{host}:{port}", "--noreload"]
    else:
        raise SystemExit(f"ORDERLINE_WEB must be 'runserver' or 'gunicorn', not {web_kind!r}")
    concurrency = os.environ.get("ORDERLINE_WORKER_CONCURRENCY", "2")
    pool = os.environ.get("ORDERLINE_WORKER_POOL", "prefork")
    worker = [
        PYTHON, "-m", "celery", "-A", "config", "worker",
        "--loglevel=INFO", f"--concurrency={concurrency}", f"--pool={pool}",
    ]  # fmt: skip
    beat = [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
    return [Child("web", web), Child("worker", worker), Child("beat", beat)]


# --- the banner --------------------------------------------------------------------------


def demo_logins() -> str:
    var_dir = Path(os.environ.get("ORDERLINE_VAR_DIR") or ROOT / "var")
    path = var_dir / "demo-logins.txt"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or FALLBACK_LOGINS


def banner(url: str) -> str:
    lines = [
        "",
        paint("Orderline is running", "1;32") + f"  {paint(url, '1;4')}",
        f"  staff dashboard  {url}",
        f"  admin            {url}admin/",
        "",
        "Sign in with:",
        *(f"  {line}" for line in demo_logins().splitlines()),
        "",
        "Press Ctrl-C to stop web, worker and beat.",
        "",
    ]
    return "\n".join(lines)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


# --- supervision -------------------------------------------------------------------------


def main() -> int:
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("ORDERLINE_HOST", "127.0.0.1")
    stop_timeout = float(os.environ.get("ORDERLINE_STOP_TIMEOUT", "20"))
    url_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - display only
    url = f"http://{url_host}:{port}/"

    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.setdefault("SITE_URL", url.rstrip("/"))  # links in emails point at this server

    signals_seen: list[int] = []

    def on_signal(signum, _frame):
        signals_seen.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    children = build_children(host, port)
    sel = selectors.DefaultSelector()
    web_kind = os.environ.get("ORDERLINE_WEB", "runserver")
    say(f"starting web ({web_kind} on {host}:{port}), worker and beat")
    for child in children:
        try:
            child.start(env)
        except OSError as exc:
            say(f"could not start {child.name}: {exc}")
            signals_seen.append(-1)
            break
        sel.register(child.proc.stdout, selectors.EVENT_READ, child)

    exit_code = 0
    stopping_since: float | None = None
    killed = False
    banner_shown = False
    next_port_check = 0.0
    handled_signals = 0

    def begin_stop(reason: str) -> None:
        nonlocal stopping_since
        if stopping_since is None:
            stopping_since = time.monotonic()
            say(reason)
            # Web first (no new work comes in), then beat (nothing new scheduled), then worker.
            for name in ("web", "beat", "worker"):
                for child in children:
                    if child.name == name and child.proc is not None:
                        child.terminate()

    while True:
        for key, _ in sel.select(timeout=0.2):
            child: Child = key.data
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                child.open_pipe = False
                if child.buffer:
                    emit(prefix(child.name) + child.buffer + b"\n")
                    child.buffer = b""
                continue
            child.buffer += chunk
            *lines, child.buffer = child.buffer.split(b"\n")
            if lines:
                emit(b"".join(prefix(child.name) + line.rstrip(b"\r") + b"\n" for line in lines))

        if len(signals_seen) > handled_signals:
            handled_signals = len(signals_seen)
            if stopping_since is None:
                begin_stop("stopping web, beat and worker ...")
            elif not killed:
                say("second interrupt: killing everything now")
                for child in children:
                    if child.proc is not None:
                        child.kill_group()
                killed = True

        for child in children:
            if child.proc is None or not child.alive:
                continue
            code = child.poll()
            if code is None:
                continue
            if stopping_since is None:
                exit_code = code if code > 0 else 1
                begin_stop(f"{child.name} exited unexpectedly (code {code}); stopping the others")
            elif code in (0, -signal.SIGTERM, -signal.SIGINT):
                say(f"{child.name} stopped")
            else:
                say(f"{child.name} stopped (code {code})")

        started = [c for c in children if c.proc is not None]
        if stopping_since is not None:
            if all(not c.alive for c in started):
                # Give the pipes a moment to drain, then leave.
                if all(not c.open_pipe for c in started) or time.monotonic() - stopping_since > (
                    stop_timeout + 2
                ):
                    break
            elif not killed and time.monotonic() - stopping_since > stop_timeout:
                say(f"still running after {stop_timeout:.0f}s: killing")
                for child in started:
                    if child.alive:
                        child.kill_group()
                killed = True
        elif not banner_shown and time.monotonic() >= next_port_check:
            next_port_check = time.monotonic() + 0.5
            if port_open(url_host, int(port)):
                banner_shown = True
                say(banner(url))

    for child in children:
        if child.proc is not None and child.alive:
            child.kill_group()
            child.proc.wait()
    say("all stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
