"""``towngrid backup``: the database and the uploaded files in one archive; ``--verify`` checks
an archive without touching anything."""

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.core.backup import BackupError, backup, verify


class Command(BaseCommand):
    help = "Back up the database and the media into one .tar.gz (see docs/deployment.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-o",
            "--output",
            help="archive path (default: <data dir>/backups/towngrid-<time>.tar.gz)",
        )
        parser.add_argument("--verify", metavar="ARCHIVE", help="check an archive and exit")

    def handle(self, *args, **options) -> None:
        try:
            if options["verify"]:
                manifest = verify(Path(options["verify"]))
                self.stdout.write(
                    self.style.SUCCESS(
                        f"OK: {manifest.engine} backup of {manifest.created_at}, "
                        f"{len(manifest.migrations)} migrations, {manifest.media_files} files, "
                        + ", ".join(f"{t} {n}" for t, n in manifest.counts.items())
                    )
                )
                return
            output = options["output"] or (
                Path(settings.DATA_DIR)
                / "backups"
                / f"towngrid-{datetime.now():%Y%m%d-%H%M%S}.tar.gz"
            )
            manifest = backup(Path(output))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {manifest.engine} ({sum(manifest.counts.values())} rows in the main "
                f"tables, {manifest.media_files} files) to {output}"
            )
        )
