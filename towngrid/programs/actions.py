"""Every state change of the programs app. Each action checks who acts (``queries.can_edit_*``),
validates (``ProgramError`` with a Chinese message; nothing written), writes in one transaction
and records one audit event there. ``actor=None`` is the system (CLI, demo build).

Progress photos are checked before anything is written and stored re-encoded from their pixels
(towngrid.cases.media), so no EXIF block (location, device, time) of the original survives; if
the transaction fails, the stored files are removed again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from towngrid.core import audit

from . import queries
from .models import (
    LinkKind,
    Milestone,
    Pipeline,
    PipelineStage,
    ProgressEntry,
    ProgressPhoto,
    Project,
    ProjectLink,
    ProjectPartner,
    ProjectStatus,
    StageReading,
    Target,
    TargetReading,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_TEXT = 4000
MAX_PHOTOS = 9


class ProgramError(Exception):
    """A refused change: a stable ``code`` and a Chinese ``message``."""

    HTTP_STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404}

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.field = field

    @property
    def http_status(self) -> int:
        return self.HTTP_STATUS.get(self.code, 400)

    def __str__(self) -> str:
        return self.message


def today() -> date:
    return timezone.now().astimezone(SHANGHAI).date()


def _is_system(actor) -> bool:
    return actor is None or not getattr(actor, "is_authenticated", False)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise ProgramError("forbidden", message)


def _percent(value: Any) -> int:
    try:
        percent = int(str(value).strip())
    except (TypeError, ValueError):
        raise ProgramError(
            "invalid", "完成进度应为 0 到 100 之间的整数。", field="percent"
        ) from None
    if not 0 <= percent <= 100:
        raise ProgramError("invalid", "完成进度应为 0 到 100 之间的整数。", field="percent")
    return percent


def _amount(value: Any, field: str, label: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ProgramError("invalid", f"{label}应为数字。", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise ProgramError("invalid", f"{label}应为不小于 0 的数字。", field=field)
    if amount >= Decimal("1e12") or amount != amount.quantize(Decimal("0.01")):
        raise ProgramError("invalid", f"{label}最多保留两位小数。", field=field)
    return amount


def _day(value: Any, field: str, label: str, *, required: bool = True) -> date | None:
    if value in (None, ""):
        if required:
            raise ProgramError("invalid", f"请填写{label}。", field=field)
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise ProgramError("invalid", f"{label}格式应为 YYYY-MM-DD。", field=field) from None
    if day > today():
        raise ProgramError("invalid", f"{label}不能晚于今天。", field=field)
    return day


def _text(value: Any, field: str, label: str, *, limit: int = MAX_TEXT, required=True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ProgramError("invalid", f"请填写{label}。", field=field)
    if len(text) > limit:
        raise ProgramError("invalid", f"{label}不能超过 {limit} 字。", field=field)
    return text


# ---- projects -------------------------------------------------------------------------------


def create_project(*, actor=None, cooperating_departments=(), **fields: Any) -> Project:
    """Create a project (back office, demo build). ``fields`` are Project fields."""
    project = Project(**fields)
    project.full_clean(exclude=["cooperating_departments"])
    with transaction.atomic():
        project.save()
        for order, department in enumerate(cooperating_departments, start=1):
            ProjectPartner.objects.create(project=project, department=department, order=order)
        audit.record(
            actor,
            "programs.create_project",
            project,
            changes={"name": project.name, "budget": str(project.budget)},
        )
    return project


def add_milestone(
    project: Project,
    *,
    name: str,
    planned_on: date | None = None,
    actual_on: date | None = None,
    note: str = "",
    order: int | None = None,
    actor=None,
) -> Milestone:
    if not _is_system(actor):
        _require(queries.can_edit_project(actor, project), "您无权维护此项目。")
    name = _text(name, "name", "节点名称", limit=200)
    if order is None:
        order = project.milestones.count() + 1
    with transaction.atomic():
        milestone = Milestone.objects.create(
            project=project,
            order=order,
            name=name,
            planned_on=planned_on,
            actual_on=actual_on,
            note=note[:300],
        )
        audit.record(
            actor,
            "programs.add_milestone",
            project,
            changes={"milestone": name, "planned_on": str(planned_on or "")},
        )
    return milestone


def set_milestone(
    milestone: Milestone, *, actual_on: Any, note: str | None = None, actor=None
) -> Milestone:
    """Record (or clear, with an empty date) the day a milestone was reached."""
    project = milestone.project
    if not _is_system(actor):
        _require(queries.can_edit_project(actor, project), "您无权维护此项目。")
    day = _day(actual_on, "actual_on", "实际日期", required=False)
    with transaction.atomic():
        before = {"actual_on": str(milestone.actual_on or ""), "note": milestone.note}
        milestone.actual_on = day
        if note is not None:
            milestone.note = _text(note, "note", "说明", limit=300, required=False)
        milestone.save(update_fields=["actual_on", "note"])
        after = {"actual_on": str(day or ""), "note": milestone.note}
        audit.record(
            actor,
            "programs.set_milestone",
            project,
            changes={"milestone": milestone.name, **audit.diff(before, after)},
        )
    return milestone


def _check_photos(photos: Sequence) -> list[tuple[bytes, Any]]:
    from towngrid.cases.media import PhotoError, check_photo

    if len(photos) > MAX_PHOTOS:
        raise ProgramError("invalid", f"每条进展最多 {MAX_PHOTOS} 张照片。", field="photos")
    checked = []
    for photo in photos:
        try:
            checked.append(check_photo(photo))
        except PhotoError as exc:
            raise ProgramError("invalid", exc.message, field="photos") from None
    return checked


def _store_photo(entry: ProgressEntry, data: bytes, image, stored: list) -> ProgressPhoto:
    # The cases app's re-encoding: pixels only (orientation applied), so no metadata survives.
    from towngrid.cases.media import FORMATS, PUBLIC_MAX_SIDE, _encode, _pixels_only, _thumbnail

    fmt = image.format or "JPEG"
    clean = _pixels_only(image, PUBLIC_MAX_SIDE)
    public_bytes = _encode(clean, fmt)
    content_type, ext = FORMATS[fmt]
    ext = "jpg" if fmt in ("JPEG", "MPO") else ext
    stem = uuid.uuid4().hex
    photo = ProgressPhoto(
        entry=entry,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        width=clean.width,
        height=clean.height,
    )
    photo.file.save(f"{stem}.{ext}", ContentFile(public_bytes), save=False)
    stored.append(photo.file)
    photo.thumbnail.save(f"{stem}.jpg", ContentFile(_thumbnail(clean)), save=False)
    stored.append(photo.thumbnail)
    photo.save()
    return photo


def add_progress(
    project: Project,
    *,
    text: Any,
    percent: Any,
    reported_on: Any = None,
    status: str | None = None,
    photos: Sequence = (),
    actor=None,
) -> ProgressEntry:
    """Add an entry to the project's progress log. The project's current percentage, status and
    推进情况 follow its latest entry (by date), so a backdated entry does not hide a newer one.
    ``status`` defaults to 已完成 at 100 % and 推进中 otherwise."""
    if not _is_system(actor):
        _require(
            queries.can_edit_project(actor, project),
            "只有项目实施部门或配合部门的人员可以填报进展。",
        )
    text = _text(text, "text", "推进情况")
    percent = _percent(percent)
    day = _day(reported_on, "reported_on", "进展日期", required=False) or today()
    if status in (None, ""):
        status = ProjectStatus.COMPLETED if percent == 100 else ProjectStatus.IN_PROGRESS
    if status not in ProjectStatus.values:
        raise ProgramError("invalid", "未知的项目状态。", field="status")
    if status == ProjectStatus.COMPLETED and percent != 100:
        raise ProgramError("invalid", "项目标为已完成时，完成进度应为 100%。", field="percent")
    checked = _check_photos(list(photos or ()))
    stored: list = []
    try:
        with transaction.atomic():
            # Serialise writers of one project, so the denormalised latest entry is consistent.
            locked = Project.objects.select_for_update().get(pk=project.pk)
            entry = ProgressEntry.objects.create(
                project=locked,
                reported_on=day,
                text=text,
                percent=percent,
                status=status,
                author=None if _is_system(actor) else actor,
            )
            for data, image in checked:
                _store_photo(entry, data, image, stored)
            latest = locked.progress.order_by("-reported_on", "-id").first()
            before = {"percent": locked.percent, "status": locked.status}
            locked.percent = latest.percent
            locked.status = latest.status
            locked.progress_text = latest.text
            locked.progress_on = latest.reported_on
            locked.save(
                update_fields=["percent", "status", "progress_text", "progress_on", "updated_at"]
            )
            audit.record(
                actor,
                "programs.add_progress",
                locked,
                changes={
                    "entry": entry.pk,
                    "reported_on": day.isoformat(),
                    "percent": percent,
                    "photos": len(checked),
                    **audit.diff(before, {"percent": locked.percent, "status": locked.status}),
                },
            )
    except Exception:
        for field_file in stored:
            field_file.storage.delete(field_file.name)
        raise
    project.refresh_from_db()
    return entry


def link(project: Project, *, case=None, grid=None, note: str = "", actor=None) -> ProjectLink:
    """Link a case or a place (grid node) to the project; linking twice is refused."""
    if not _is_system(actor):
        _require(queries.can_edit_project(actor, project), "您无权维护此项目。")
        from towngrid.accounts.access import can_see, can_see_grid_code

        if case is not None and not can_see(actor, case):
            raise ProgramError("not_found", "案件不存在或不在您的范围内。")
        if grid is not None and not can_see_grid_code(actor, grid.code):
            raise ProgramError("not_found", "网格不存在或不在您的范围内。")
    if (case is None) == (grid is None):
        raise ProgramError("invalid", "请选择一个案件或一个地点。")
    kind = LinkKind.CASE if case is not None else LinkKind.PLACE
    exists = ProjectLink.objects.filter(project=project, case=case, grid=grid)
    if exists.exists():
        raise ProgramError("invalid", "已经关联过了。")
    with transaction.atomic():
        row = ProjectLink.objects.create(
            project=project, kind=kind, case=case, grid=grid, note=note[:200]
        )
        audit.record(
            actor,
            "programs.link",
            project,
            changes={
                "kind": kind,
                "case": getattr(case, "number", ""),
                "grid": getattr(grid, "code", ""),
            },
        )
    return row


# ---- targets and pipelines ------------------------------------------------------------------


def _reading_day(value: Any, year: int) -> date:
    day = _day(value, "as_of", "截至日期", required=False) or today()
    if day.year != year:
        raise ProgramError("invalid", f"截至日期应在 {year} 年内。", field="as_of")
    return day


def _latest_on(model, **parent) -> Any:
    return model.objects.filter(**parent).order_by("-as_of", "-id").first()


def record_target(
    target: Target, *, value: Any, as_of: Any = None, note: str = "", actor=None
) -> TargetReading:
    """Record a target's actual to date (累计值). The target's current actual follows its latest
    reading by date."""
    if not _is_system(actor):
        _require(queries.can_edit_target(actor, target), "只有责任部门的人员可以填报此目标。")
    amount = _amount(value, "value", "累计完成")
    day = _reading_day(as_of, target.year)
    note = _text(note, "note", "说明", limit=300, required=False)
    with transaction.atomic():
        locked = Target.objects.select_for_update().get(pk=target.pk)
        reading = TargetReading.objects.create(
            target=locked,
            as_of=day,
            value=amount,
            note=note,
            author=None if _is_system(actor) else actor,
        )
        latest = _latest_on(TargetReading, target=locked)
        before = {"actual": str(locked.actual), "as_of": str(locked.as_of or "")}
        locked.actual, locked.as_of = latest.value, latest.as_of
        locked.save(update_fields=["actual", "as_of"])
        audit.record(
            actor,
            "programs.record_target",
            locked,
            changes={
                "value": str(amount),
                "reading_as_of": day.isoformat(),
                **audit.diff(before, {"actual": str(locked.actual), "as_of": str(locked.as_of)}),
            },
            reason=note,
        )
    target.refresh_from_db()
    return reading


def record_stage(
    stage: PipelineStage, *, value: Any, as_of: Any = None, note: str = "", actor=None
) -> StageReading:
    """Record the count a pipeline stage has reached to date."""
    pipeline: Pipeline = stage.pipeline
    if not _is_system(actor):
        _require(queries.can_edit_pipeline(actor, pipeline), "只有责任部门的人员可以填报此任务。")
    amount = _amount(value, "value", "完成数")
    day = _reading_day(as_of, pipeline.year)
    note = _text(note, "note", "说明", limit=300, required=False)
    with transaction.atomic():
        locked = PipelineStage.objects.select_for_update().get(pk=stage.pk)
        reading = StageReading.objects.create(
            stage=locked,
            as_of=day,
            value=amount,
            note=note,
            author=None if _is_system(actor) else actor,
        )
        latest = _latest_on(StageReading, stage=locked)
        before = {"actual": str(locked.actual), "as_of": str(locked.as_of or "")}
        locked.actual, locked.as_of = latest.value, latest.as_of
        locked.save(update_fields=["actual", "as_of"])
        audit.record(
            actor,
            "programs.record_stage",
            pipeline,
            changes={
                "stage": locked.name,
                "value": str(amount),
                "reading_as_of": day.isoformat(),
                **audit.diff(before, {"actual": str(locked.actual), "as_of": str(locked.as_of)}),
            },
            reason=note,
        )
    stage.refresh_from_db()
    return reading
