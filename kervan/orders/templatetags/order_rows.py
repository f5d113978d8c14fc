"""Small filters for the order list's rows (kervan/templates/orders/_rows.html)."""

from django import template

register = template.Library()


@register.filter
def units(lines) -> int:
    """How many items an order's (prefetched) lines hold."""
    return sum(line.quantity for line in lines)
