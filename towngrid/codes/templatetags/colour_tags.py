"""Template helpers of the colour panel."""

from django import template

from towngrid.accounts.access import has_capability, in_grid_scope

register = template.Library()


@register.simple_tag(takes_context=True)
def can_override_colour(context, obj) -> bool:
    """Whether the signed-in user may override this object's colour (capability and scope)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or obj is None:
        return False
    return has_capability(user, "colours.override") and in_grid_scope(
        user, getattr(obj, "grid_code", "") or ""
    )


@register.filter
def colour_kind_of(obj) -> str:
    from towngrid.codes.objects import kind_of

    return kind_of(obj) if obj is not None else ""
