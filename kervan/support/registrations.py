"""How support plugs into the rest: its permission area and its menu entry."""

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area

    register_area("support", _("Support"), support=WRITE, marketing=READ, analyst=READ)
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    # One menu entry for the whole help desk (the top bar stays one row on a desktop): its pages link to each other.
    register_nav(NavItem("support", _("Support"), "support:kb_list", area="support", position=45))
