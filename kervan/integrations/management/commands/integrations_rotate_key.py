"""`manage.py integrations_rotate_key`: re-encrypt stored credentials with the first KERVAN_ENCRYPTION_KEYS key."""

from django.core.management.base import BaseCommand

from kervan.integrations.actions import credentials_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every connection's credentials with the first key of KERVAN_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        count = credentials_reencrypt()
        self.stdout.write(f"re-encrypted the credentials of {count} connection(s)")
