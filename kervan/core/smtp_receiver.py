"""Running an SMTP receiver (an aiosmtpd Controller) as a management command until it is stopped: the bounce mailbox
(manage.py bounces_receive) and the support mailbox (manage.py support_smtp) are served the same way."""

import signal
import threading
from typing import Any, TextIO

from django.core.management.base import CommandError


def serve_until_stopped(controller: Any, *, host: str, port: int, banner: str, stdout: TextIO) -> None:
    """Start `controller`, say `banner`, and serve until Ctrl-C or SIGTERM; a port that cannot be taken is a
    CommandError (exit status 2)."""
    try:
        controller.start()
    except Exception as exc:  # aiosmtpd reports a port in use (or a bad address) as whatever bind raised
        raise CommandError(f"Cannot listen on {host}:{port}: {exc}", returncode=2) from exc
    stop = threading.Event()
    # A service manager stops with SIGTERM: finish the message in hand and close the port, as for Ctrl-C.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stdout.write(banner + "\n")
    stdout.flush()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        controller.stop()
    stdout.write("Stopped.\n")
