from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if mapping else ""


@register.filter
def role_label(value):
    """The role's name as staff say it ("Registration clerk"), from its stored code."""
    from ajeya.core.roles import Role

    try:
        return Role(value).label
    except ValueError:
        return value or "—"


@register.filter
def sum_attr(items, name):
    """{{ days|sum_attr:"booked" }}: the sum of one attribute over a list."""
    return sum(getattr(item, name) or 0 for item in items or [])


@register.filter
def inr(value):
    """{{ bill.amount|inr }}: ₹1,23,456.78 (Indian grouping); empty for no value."""
    from ajeya.core import money

    return "" if value in (None, "") else money.inr(value)
