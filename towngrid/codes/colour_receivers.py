"""Receivers that keep colours live: a registry object changed, or a case about one opened or
closed. Both run inside the sender's transaction, so the colour commits or rolls back with the
change that caused it. The engine is imported late (this module loads with the models)."""

from __future__ import annotations

from django.dispatch import receiver

from towngrid.cases.signals import case_changed
from towngrid.registry.signals import registry_changed


def _colour_target(instance):
    """The object whose colour depends on ``instance``: itself when it has a colour kind, else
    the located parent it belongs to (an enterprise visit → its enterprise)."""
    from .objects import is_coded

    if is_coded(instance):
        return instance
    # An enterprise visit's problems are findings of its enterprise. Households and residents
    # carry their house's colour kind but no rule reads them: they change no colour.
    for name in ("enterprise",):
        parent = getattr(instance, name, None) if hasattr(type(instance), name) else None
        if parent is not None and is_coded(parent):
            return parent
    return None


@receiver(registry_changed, dispatch_uid="codes.colours.registry_changed")
def _on_registry_changed(sender, instance=None, **kwargs) -> None:
    target = _colour_target(instance) if instance is not None else None
    if target is None:
        return
    from . import colours

    colours.recompute(target, cause="rule")


@receiver(case_changed, dispatch_uid="codes.colours.case_changed")
def _on_case_changed(sender, case=None, old_status="", new_status="", **kwargs) -> None:
    if case is None or not case.subject_type_id:
        return
    from towngrid.cases.models import OPEN_STATUSES

    # Only opening and closing change the count of open cases; moves between open statuses
    # (accept, dispatch, …) leave the colour as it is and cost nothing here.
    if (old_status in OPEN_STATUSES) == (new_status in OPEN_STATUSES) and old_status:
        return
    from . import colours

    subject = colours.subject_of(case)
    if subject is not None:
        colours.recompute(subject, cause="rule")
