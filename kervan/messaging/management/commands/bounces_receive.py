"""manage.py bounces_receive — run the bounce mailbox's SMTP receiver until stopped (Ctrl-C or SIGTERM)."""

from django.core.management.base import BaseCommand

from kervan.core.smtp_receiver import serve_until_stopped
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
        serve_until_stopped(
            receiver(host, port), host=host, port=port, banner=f"Receiving bounces on {host}:{port}", stdout=self.stdout
        )
