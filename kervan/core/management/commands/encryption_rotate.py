"""`manage.py encryption_rotate`: re-encrypt every stored secret with the first key of KERVAN_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand

from kervan.core.crypto import reencrypt_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (store credentials, webhook secrets) with the first KERVAN_ENCRYPTION_KEYS key."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"re-encrypted {reencrypt_all()} stored secret(s)")
