from django.core.management.base import BaseCommand

from kervan.support import search


class Command(BaseCommand):
    help = "Rebuild the knowledge base's search index (after a restore, or a load that bypassed the editors' saves)."

    def handle(self, *args, **options):
        rows = search.reindex()
        self.stdout.write(f"{rows} article texts indexed.")
