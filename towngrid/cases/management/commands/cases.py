"""``towngrid cases check-overdue|show|transition``: the case workflow from the command line.

The CLI acts as the system (no user), through ``cases.actions`` like every other caller; the
overdue sweep is what a scheduler (cron, the worker) runs every few minutes.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from towngrid.cases import actions, queries
from towngrid.cases.errors import CaseError
from towngrid.cases.workflow import TRANSITIONS


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"时间格式无效：{text}（应为 ISO 8601，如 2023-03-01T09:00+08:00）"
        ) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


class Command(BaseCommand):
    help = "案件：超时检查、查看案件、执行流转。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="sub", required=True, metavar="{check-overdue,show,transition}"
        )
        check = sub.add_parser("check-overdue", help="提醒超时案件的上一级（每个环节一次）")
        check.add_argument("--now", help="以此时刻为当前时间（ISO 8601），用于补跑和测试")

        show = sub.add_parser("show", help="查看案件及其时间线")
        show.add_argument("number", help="案件编号，如 BC2023-000123")
        show.add_argument("--json", action="store_true", help="输出 JSON")

        move = sub.add_parser("transition", help="以系统身份执行流转（运维用）")
        move.add_argument("number", help="案件编号")
        move.add_argument("action", choices=sorted(TRANSITIONS), help="操作")
        move.add_argument("--note", default="", help="说明或原因")
        move.add_argument("--department", help="派遣部门编码")

    def handle(self, *args, **options) -> None:
        getattr(self, "_" + options["sub"].replace("-", "_"))(options)

    def _check_overdue(self, options) -> None:
        count = actions.check_overdue(now=_moment(options.get("now")))
        self.stdout.write(f"已提醒超时案件 {count} 件。")

    def _show(self, options) -> None:
        try:
            case = queries.get_case(options["number"])
        except CaseError as exc:
            raise CommandError(exc.message) from None
        left = queries.time_left(case)
        timeline = queries.timeline(case)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "number": case.number,
                        "status": case.status,
                        "category": case.category.full_code,
                        "grid_code": case.grid_code,
                        "department": case.department.code if case.department else None,
                        "time_left": left,
                        "timeline": timeline,
                    },
                    ensure_ascii=False,
                    indent=2,
                    default=str,
                )
            )
            return
        local = timezone.localtime
        self.stdout.write(f"{case.number}  {case.category.full_code} {case.category.name}")
        self.stdout.write(
            f"状态：{case.get_status_display()}  网格：{case.grid.name}（{case.grid_code}）"
        )
        if case.department:
            self.stdout.write(f"处置部门：{case.department.name}")
        if left["deadline"]:
            state = "已超时" if left["overdue"] else "剩余"
            self.stdout.write(
                f"环节时限：{local(left['deadline']):%Y-%m-%d %H:%M}（{state} "
                f"{abs(left['work_hours_left'])} 工作时）"
            )
        self.stdout.write("时间线：")
        for item in timeline:
            actor = item.get("actor") or ""
            note = item.get("note") or ""
            self.stdout.write(
                f"  {local(item['at']):%Y-%m-%d %H:%M}  {item['label']}  {actor}  {note}"
            )

    def _transition(self, options) -> None:
        try:
            case = queries.get_case(options["number"])
            extra = {"department": options["department"]} if options.get("department") else {}
            actions.transition(case, options["action"], actor=None, note=options["note"], **extra)
        except CaseError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{case.number}：{case.get_status_display()}")
