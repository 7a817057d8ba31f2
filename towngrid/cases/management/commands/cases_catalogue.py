"""``towngrid cases_catalogue [--dry-run] [--list]``: install or update the standard category
catalogue (部件/事件 classes, subclasses, default departments, time limits)."""

from django.core.management.base import BaseCommand, CommandParser

from towngrid.cases.catalogue import CATALOGUE, install_catalogue, subclass_count

LABELS = {
    "departments": "部门",
    "classes": "大类",
    "subclasses": "小类",
    "limits": "时限",
}
VERBS = {"created": "新增", "updated": "更新", "unchanged": "未变"}


class Command(BaseCommand):
    help = (
        "Install or update the GB/T 30428-style case category catalogue and its time limits "
        "(idempotent; only changed rows are written)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change, write nothing"
        )
        parser.add_argument(
            "--list", action="store_true", help="print the catalogue, write nothing"
        )

    def handle(self, *args, **options) -> None:
        if options["list"]:
            for major in CATALOGUE:
                self.stdout.write(f"{major.letter}{major.code} {major.name}")
                for sub in major.subs:
                    flags = "" if sub.public else "（内部）"
                    self.stdout.write(
                        f"  {major.letter}{major.code}{sub.code} {sub.name}{flags}"
                        f"  处置 {sub.handle}  {sub.department}"
                    )
            return
        counts = install_catalogue(dry_run=options["dry_run"])
        prefix = "（试运行，未写入）" if options["dry_run"] else ""
        parts = []
        for key, label in LABELS.items():
            figures = [
                f"{VERBS[verb]} {counts[f'{key}_{verb}']}"
                for verb in VERBS
                if counts.get(f"{key}_{verb}")
            ]
            if figures:
                parts.append(f"{label}：{'，'.join(figures)}")
        self.stdout.write(
            self.style.SUCCESS(f"{prefix}案件分类目录（{subclass_count()} 个小类）：")
            + "；".join(parts)
        )
