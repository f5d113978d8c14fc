"""manage.py bounces_receive — run the bounce mailbox's SMTP receiver until stopped (Ctrl-C or SIGTERM)."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from kervan.messaging.channels.email.inbound import receiver


class Command(BaseCommand):
    help = (
        "Receive bounces over SMTP: every message delivered to this server is read as a delivery report and its "
        "addresses recorded (permanent failures suppressed, temporary ones counted); anything else is accepted "
        "and dropped. Runs until interrupted (Ctrl-C or SIGTERM)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on (default 2525)")

    def handle(self, *args, host, port, **options):
        controller = receiver(host, port)
        try:
            controller.start()
        except Exception as exc:  # aiosmtpd reports a port in use (or a bad address) as whatever bind raised
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}", returncode=2)
        stop = threading.Event()
        # A service manager stops with SIGTERM: finish the message in hand and close the port, as for Ctrl-C.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write(f"Receiving bounces on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            controller.stop()
        self.stdout.write("Stopped.")
