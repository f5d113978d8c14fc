"""Permission areas and access levels by name in the UI language: `{{ "customers"|area_label }}` → "Müşteriler",
`{{ "write"|access_label }}` → "Yazma", `{% refusal domain access %}` → the sentence a refused request is told."""

from django import template

from kervan.accounts import permissions

register = template.Library()


@register.filter
def area_label(key: str) -> str:
    return permissions.area_label(key)


@register.filter
def access_label(access: str | None) -> str:
    return permissions.access_label(access)


@register.simple_tag
def refusal(area: str, access: str) -> str:
    return permissions.refusal_message(area, access)
