"""Serving Kervan for a benchmark: gunicorn on 127.0.0.1, started, waited for, stopped — one way for every script."""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_gunicorn(
    *, port: int, workers: int, env: dict, ready_path: str, extra: list[str] = (), log=None
) -> tuple[subprocess.Popen, str]:
    """Start gunicorn (config.wsgi) in its own process group and return (process, base URL) once `ready_path`
    answers. `log` takes the server's output (a file); by default it goes to this terminal."""
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "config.wsgi",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--access-logfile",
        "/dev/null",
        *extra,
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
        stop_gunicorn(server)
        raise RuntimeError(f"gunicorn did not answer {base}{ready_path}")
    return server, base


def stop_gunicorn(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
