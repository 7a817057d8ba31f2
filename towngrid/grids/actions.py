"""Writes for the grid: every change to nodes, staff and duties goes through here, is validated,
is audited, and bumps the grid revision so lookup indexes rebuild."""

from django.db import transaction
from django.db.models import F

from towngrid.core.audit import record

from .models import DutyAssignment, GridNode, GridRevision, GridStaff, Level, Post


class GridActionError(ValueError):
    """A refused grid write, with a message fit to show the user."""


def bump_revision() -> int:
    """Mark the grid as changed; call inside the transaction that changed it."""
    row, _ = GridRevision.objects.get_or_create(pk=1)
    GridRevision.objects.filter(pk=1).update(revision=F("revision") + 1)
    row.refresh_from_db()
    return row.revision


@transaction.atomic
def create_staff(name: str, *, work_phone: str = "", user=None, actor=None) -> GridStaff:
    name = (name or "").strip()
    if not name:
        raise GridActionError("姓名不能为空。")
    staff = GridStaff.objects.create(name=name, work_phone=work_phone.strip(), user=user)
    record(actor, "grids.staff_created", staff, changes={"name": name})
    return staff


@transaction.atomic
def assign_duty(staff: GridStaff, grid: GridNode, post: str, *, actor=None, reason: str = "") -> DutyAssignment:
    """Put a person on duty in a micro-grid. A person may hold several grids and posts."""
    if grid.level != Level.MICRO:
        raise GridActionError(f"只能在微网格上安排岗位，{grid.name} 是{grid.get_level_display()}。")
    if post not in Post.values:
        raise GridActionError(f"未知岗位：{post}。")
    duty, created = DutyAssignment.objects.get_or_create(staff=staff, grid=grid, post=post)
    if created:
        record(actor, "grids.duty_assigned", duty, changes={"grid": grid.code, "post": post}, reason=reason)
    return duty


@transaction.atomic
def end_duty(duty: DutyAssignment, *, actor=None, reason: str = "") -> None:
    from django.utils import timezone

    duty.ended_on = timezone.localdate()
    duty.save(update_fields=["ended_on"])
    record(actor, "grids.duty_ended", duty, reason=reason)
