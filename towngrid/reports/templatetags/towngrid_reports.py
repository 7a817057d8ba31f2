"""Formatting of the reports' table cells."""

from django import template

register = template.Library()


@register.filter
def cell(value, kind: str = "int") -> str:
    """A figure as shown: integers with thousands separators, rates as percentages, scores with
    one decimal, missing values as "—"."""
    if value is None or value == "":
        return "—"
    if kind == "rate":
        return f"{float(value) * 100:.1f}%"
    if kind == "score":
        return f"{float(value):.1f}"
    if kind == "int" and isinstance(value, int):
        return f"{value:,}"
    return str(value)
