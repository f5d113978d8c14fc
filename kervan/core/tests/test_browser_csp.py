"""A real browser walks Kervan's pages under its Content Security Policy (no inline script) and with no internet: not
one policy violation, script error or request to another host — the API docs included — and the copy buttons work."""

import pytest
from django.conf import settings

from kervan.accounts.models import User
from kervan.customers.tests.factories import make_customer, make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Reported from inside each page (an init script runs before the page's own, whatever its policy says).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


class Watch:
    """What went wrong on the pages of one browser context: policy violations and script errors (from the console),
    requests to any host but Kervan's (aborted: there is no internet), HTML pages without the policy header."""

    def __init__(self, page, base_url: str):
        self.problems: list[str] = []
        self.base_url = base_url
        page.context.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: script error: {error}"))
        page.on("response", self._response)
        page.context.route("**/*", self._route)
        self.page = page

    def _console(self, message) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "CSP violation" in text):
            self.problems.append(f"{self.page.url}: {text}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document" and response.url.startswith(self.base_url):
            if "content-security-policy" not in response.headers:
                self.problems.append(f"{response.url}: no Content-Security-Policy header")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.base_url):
            route.continue_()
        else:
            self.problems.append(f"{self.page.url}: asked another host for {url}")
            route.abort()

    def visit(self, path: str) -> None:
        self.page.goto(path, wait_until="networkidle")


def _sign_in(page, live_server) -> User:
    user = User.objects.create_user("yonetici", password="kervan-browser-pw", role="admin", language="en")
    page.goto("/accounts/login/", wait_until="networkidle")
    page.fill("input[name=username]", "yonetici")
    page.fill("input[name=password]", "kervan-browser-pw")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/accounts/login/" not in page.url
    return user


def test_the_pages_pass_the_content_security_policy_and_need_no_other_host(page, live_server):
    watch = Watch(page, live_server.url)
    customer = make_customer(first_name="Işıl", last_name="Çağlar", email="isil@example.com", city="İstanbul")
    order = make_order(customer, total_lines=((2, "450.00"),))
    _sign_in(page, live_server)  # the login page itself is watched too

    pages = [
        "/",
        "/customers/",
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/edit/",
        f"/customers/{customer.pk}/merge/",
        "/customers/new/",
        "/customers/custom-fields/",
        f"/orders/{order.pk}/",
        "/imports/",
        "/events/tracker/",
        "/events/tracker/demo/",
        "/settings/exchange-rates/",
        "/accounts/settings/",
        "/accounts/settings/users/",
        "/accounts/settings/users/new/",
        "/accounts/settings/security/",
        "/accounts/settings/api-keys/",
        "/accounts/settings/audit-log/",
        "/accounts/profile/",
        "/accounts/profile/two-factor/",
        "/no/such/page/",
    ]
    # And every page the top bar's menu leads to, whatever apps have added to it.
    page.goto("/customers/")
    menu = page.eval_on_selector_all(".topbar nav a[href]", "links => links.map(a => a.getAttribute('href'))")
    for path in [*pages, *[m for m in menu if m not in pages]]:
        watch.visit(path)

    # The API docs: Swagger UI from Kervan's own static files, drawn without a CDN.
    watch.visit("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Kervan API" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 10  # the operations are listed

    assert watch.problems == []


def test_copy_buttons_copy_the_tracker_snippet_and_a_new_api_key(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    watch = Watch(page, live_server.url)
    _sign_in(page, live_server)

    watch.visit("/events/tracker/")
    page.click("button[data-copy='#tracker-snippet']")
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert "/events/tracker.js" in snippet and snippet == page.inner_text("#tracker-snippet").strip()

    watch.visit("/accounts/settings/api-keys/")
    page.fill("input[name=name]", "ERP")
    page.select_option("select[name=scope_customers]", "read")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#new-api-key")
    page.click("button[data-copy='#new-api-key']")
    key = page.evaluate("navigator.clipboard.readText()")
    assert key.startswith("kv_") and key == page.inner_text("#new-api-key").strip()
    assert page.inner_text("button[data-copy='#new-api-key']") == "Copied"

    # Revoking asks first (a data-confirm form, not an inline handler): dismissed, nothing happens; accepted, revoked.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("form[data-confirm] button[type=submit]")
    assert page.locator("form[data-confirm]").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("form[data-confirm]").count() == 0

    assert watch.problems == []
    assert settings.KERVAN_CSP["script-src"] == ["'self'"]
