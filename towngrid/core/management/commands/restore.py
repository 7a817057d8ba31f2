"""``towngrid restore ARCHIVE``: replace the database and the media with a backup's."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from towngrid.core.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup made by `towngrid backup` (replaces the database and the media)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive")
        parser.add_argument(
            "--yes", action="store_true", help="do not ask before replacing the data"
        )

    def handle(self, *args, **options) -> None:
        archive = Path(options["archive"])
        if not options["yes"]:
            answer = input(f"Replace this installation's database and media with {archive}? [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("取消恢复。Restore cancelled.")
        try:
            manifest = restore(archive)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the {manifest.engine} backup of {manifest.created_at} "
                f"({manifest.media_files} files)."
            )
        )
