"""Kervan on a phone (390×844, a real chromium): no main page scrolls sideways, and the menu folds behind the ☰
button with the language switch and logout reachable. On a desktop the same header is one row."""

import pytest
from django.conf import settings
from django.test import Client

from kervan.accounts.models import User

from .shop import MAIN_PAGES, build_shop, page_paths

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def shop_admin(db):
    return User.objects.create_user(
        "owner", password="kervan-browser-pw", role="admin", language="en", first_name="Deniz", last_name="Owner"
    )


def _signed_in(browser, live_server, user, viewport):
    """A browser context at `viewport`, signed in as `user` (a session made by the test client)."""
    staff = Client()
    staff.force_login(user)
    context = browser.new_context(
        locale="en-GB", base_url=live_server.url, viewport=viewport, is_mobile=viewport is PHONE, has_touch=True
    )
    context.add_cookies(
        [
            {"name": settings.SESSION_COOKIE_NAME, "value": staff.cookies[settings.SESSION_COOKIE_NAME].value,
             "url": live_server.url},
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url},
        ]
    )  # fmt: skip
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return context, tab


def _page_width(tab) -> int:
    return tab.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def _too_wide(tab) -> list[str]:
    """The elements sticking out past the right edge of the screen (what to fix when the width check fails)."""
    return tab.evaluate(
        """() => Array.from(document.querySelectorAll('body *'))
              .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
              .filter(e => !e.closest('.table-scroll, pre, table.list, .menu'))
              .slice(0, 5)
              .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className ===
                   'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +
                   ' right=' + Math.round(e.getBoundingClientRect().right))"""
    )


def test_every_main_page_fits_a_phone_and_keeps_the_menu_reachable(browser, live_server, shop_admin):
    shop = build_shop(shop_admin)
    context, tab = _signed_in(browser, live_server, shop_admin, PHONE)
    problems = []
    try:
        for name, template in MAIN_PAGES:
            path = shop.path(template)
            response = tab.goto(path)
            if response is None or response.status != 200:
                problems.append(f"{name} {path}: HTTP {response.status if response else '-'}")
                continue
            width = _page_width(tab)
            if width > PHONE["width"]:
                problems.append(f"{name} {path}: the page is {width}px wide: {_too_wide(tab)}")

            # Folded: the ☰ button shows, the menu does not.
            button = tab.locator("label.menu-button")
            menu = tab.locator("header.topbar .menu")
            if not button.is_visible() or menu.is_visible():
                problems.append(f"{name}: the menu is not folded behind ☰ on a phone")
                continue
            button.click()
            language = tab.locator(".menu select[name=language]")
            logout = tab.locator(".menu form[action$='/logout/'] button")
            first_link = tab.locator(".menu nav a").first
            for what, control in (("menu", first_link), ("language", language), ("logout", logout)):
                if not control.is_visible():
                    problems.append(f"{name}: {what} is not visible in the open menu")
                    continue
                control.click(trial=True)  # actionable: visible, enabled, not covered, inside the screen
                box = control.bounding_box()
                if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
                    problems.append(f"{name}: {what} is outside the screen ({box})")
            if _page_width(tab) > PHONE["width"]:
                problems.append(f"{name}: the open menu makes the page wider than the screen")
            button.click()
            if menu.is_visible():
                problems.append(f"{name}: ☰ does not close the menu")

        # Every other page (the URL resolver walked, as the translation test does) and the 404 page fit as well.
        main = {shop.path(template) for _name, template in MAIN_PAGES}
        staff = Client()
        staff.force_login(shop_admin)
        for path in [p for p in page_paths(shop) if p not in main] + ["/no-such-page/"]:
            # Whole pages only: not what answers POST alone, a download, a redirect or an htmx fragment.
            answer = staff.get(path)
            html = "text/html" in answer.get("Content-Type", "") and not answer.streaming and b"<html" in answer.content
            if answer.status_code not in (200, 404) or not html:  # (a script may say "<html" too: the chat widget)
                continue
            tab.goto(path)
            if _page_width(tab) > PHONE["width"]:
                problems.append(f"{path}: the page is {_page_width(tab)}px wide: {_too_wide(tab)}")
        assert not problems, "\n".join(problems)

        # The switch and logout do work from the phone menu: Turkish, then signed out.
        tab.goto("/customers/")
        tab.locator("label.menu-button").click()
        with tab.expect_navigation():
            tab.locator(".menu select[name=language]").select_option("tr")
        assert tab.locator("html").get_attribute("lang") == "tr"
        tab.locator("label.menu-button").click()
        assert tab.locator(".menu form[action$='/logout/'] button").inner_text() == "Çıkış yap"
        with tab.expect_navigation():
            tab.locator(".menu form[action$='/logout/'] button").click()
        tab.goto("/customers/")
        assert "/accounts/login/" in tab.url
    finally:
        context.close()


def test_on_a_desktop_the_header_is_one_row(browser, live_server, shop_admin):
    context, tab = _signed_in(browser, live_server, shop_admin, DESKTOP)
    try:
        tab.goto("/customers/")
        assert not tab.locator("label.menu-button").is_visible()
        for selector in (".menu nav a", ".global-search input", ".menu select[name=language]",
                         ".menu form[action$='/logout/'] button"):  # fmt: skip
            assert tab.locator(selector).first.is_visible(), selector
        header = tab.locator("header.topbar").bounding_box()
        assert header is not None and header["height"] < 70  # one row, nothing wrapped under it
        assert _page_width(tab) <= DESKTOP["width"]
    finally:
        context.close()
