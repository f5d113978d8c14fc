"""manage.py bounces_import PATH… — bounces saved as files (DSNs, or an mbox exported from another tool's bounce
mailbox) recorded as if the SMTP receiver had taken them."""

import csv
import json
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kervan.messaging.bounces import read_bounces, read_mailbox, record

BAD_INPUT = 2  # as import_file: 2 for input the command cannot use, so a script can tell it from a failed run


class Command(BaseCommand):
    help = (
        "Record the bounces in DSN files or mbox files (a file starting with a 'From ' line is an mbox): a permanent "
        "failure suppresses the address, a temporary one is counted. Prints a JSON summary: messages, addresses, "
        "suppressed, counted, unknown (no customer has the address), no_address (messages that are no bounce). "
        "--dry-run changes nothing and prints one CSV line per message and address instead: name (file, or "
        "file#N in an mbox), address, permanent|temporary; a message with no address gives one line with both "
        "blank. Exit status 2 for a path that cannot be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--dry-run", action="store_true", help="print what each message says, record nothing")

    def handle(self, *args, paths, dry_run=False, **options):
        files = [_readable(raw) for raw in paths]  # every path checked before anything is recorded
        if dry_run:
            self._dry_run(files)
        else:
            self._import(files)

    def _messages(self, files):
        for path in files:
            try:
                yield from read_mailbox(path)
            except OSError as exc:  # it went away or broke while being read, after the check
                raise CommandError(f"{path}: {exc.strerror or exc}.", returncode=BAD_INPUT)

    def _dry_run(self, files) -> None:
        out = csv.writer(self.stdout, lineterminator="\n")
        for name, raw in self._messages(files):
            bounces = read_bounces(raw)
            if not bounces:
                out.writerow([name, "", ""])
            for bounce in bounces:
                for address in bounce.addresses:
                    out.writerow([name, address, "permanent" if bounce.permanent else "temporary"])

    def _import(self, files) -> None:
        counts = Counter(messages=0, addresses=0, suppressed=0, counted=0, unknown=0, no_address=0)
        for name, raw in self._messages(files):
            counts["messages"] += 1
            bounces = read_bounces(raw)
            if not bounces:
                counts["no_address"] += 1
            for bounce in bounces:
                # The source lands on the suppression's note and the timeline event: say where it came from.
                for outcome in record(bounce, f"bounce import: {name}", trusted=True).values():
                    counts["addresses"] += 1
                    counts[outcome] += 1
        self.stdout.write(json.dumps(dict(counts), indent=2))


def _readable(raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise CommandError(f"{raw}: no such file.", returncode=BAD_INPUT)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise CommandError(f"{raw}: {exc.strerror or exc}.", returncode=BAD_INPUT)
    return path
