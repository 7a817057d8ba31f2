"""Template helpers of the case pages and the top bar's notification bell."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    """The number of unread notifications of the signed-in user (the bell's badge)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    cache = getattr(request, "_towngrid_unread", None)
    if cache is None:
        from towngrid.core.notify import unread_count

        cache = unread_count(user)
        request._towngrid_unread = cache
    return cache


@register.simple_tag(takes_context=True)
def can(context, capability: str) -> bool:
    from towngrid.accounts.access import has_capability

    request = context.get("request")
    return has_capability(getattr(request, "user", None), capability)


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.9372 → "93.7%"; None → "—"."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None
