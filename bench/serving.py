"""Serving Kervan for a benchmark as in production: granian (WSGI) on 127.0.0.1, started, waited for, stopped —
one way for every script."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_server(
    *, port: int, workers: int, env: dict, ready_path: str, threads: int = 1, log=None
) -> tuple[subprocess.Popen, str]:
    """Start granian (config.wsgi:application, `workers` processes of `threads` threads each) in its own process
    group and return (process, base URL) once `ready_path` answers. `log` takes the server's output (a file); by
    default it goes to this terminal."""
    try:  # a server left over from an interrupted run would answer for this one, with its old code
        urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=1)
    except OSError:
        pass
    else:
        raise RuntimeError(f"port {port} is already served: stop that server first")
    command = [
        str(ROOT / ".venv/bin/granian"),
        "--interface",
        "wsgi",
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-ws",
        "config.wsgi:application",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + ready_path, timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        stop_server(server)
        raise RuntimeError(f"granian did not answer {base}{ready_path}")
    return server, base


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
