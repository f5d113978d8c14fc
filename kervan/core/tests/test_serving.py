"""Kervan served as a product: production settings pass `check --deploy`, Kervan's own 404/500 pages in the UI
language (never Django's debug page), `createsuperuser` makes an Admin, the API docs need no internet, and on SQLite
a web request that meets a held write lock waits, then succeeds or is answered 503 with Retry-After — never 500."""

import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from kervan.accounts.models import User
from kervan.accounts.permissions import Role

ROOT = Path(settings.BASE_DIR)
PYTHON = sys.executable
BOOM_URLS = "kervan.core.tests.urls_boom"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KERVAN_", "DATABASE_URL"))}
    return {**env, **extra}


# ---- production settings -------------------------------------------------------------------------------------------


def test_check_deploy_reports_nothing_with_production_settings():
    env = _env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        KERVAN_SECRET_KEY=secrets.token_urlsafe(50),
        KERVAN_ENCRYPTION_KEYS="M2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2Y=",
        KERVAN_ALLOWED_HOSTS="crm.example.com",
    )
    done = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout, done.stdout + done.stderr


def _production_settings(**env: str) -> dict:
    code = (
        "import json, django; from django.conf import settings as s; django.setup(); print(json.dumps({k: getattr(s, k)"
        " for k in ['SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS',"
        " 'SECURE_HSTS_PRELOAD', 'SECURE_PROXY_SSL_HEADER', 'DEBUG']}, default=list))"
    )
    done = subprocess.run(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env=_env(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            KERVAN_SECRET_KEY="x" * 60,
            KERVAN_ENCRYPTION_KEYS="M2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2ZtZ2Y=",
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_https_is_enforced_by_default_and_configurable_behind_a_tls_proxy():
    default = _production_settings()
    assert default["SECURE_SSL_REDIRECT"] is True and default["DEBUG"] is False
    assert default["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert default["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and default["SECURE_HSTS_PRELOAD"]
    assert default["SECURE_PROXY_SSL_HEADER"] is None  # no proxy trusted: X-Forwarded-Proto is the client's word
    proxied = _production_settings(KERVAN_TRUSTED_PROXIES="1")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    redirecting_proxy = _production_settings(KERVAN_SSL_REDIRECT="0", KERVAN_HSTS_SECONDS="0")
    assert redirecting_proxy["SECURE_SSL_REDIRECT"] is False and redirecting_proxy["SECURE_HSTS_SECONDS"] == 0


@pytest.mark.django_db
def test_every_page_carries_a_content_security_policy_without_inline_script(admin_client):
    policy = admin_client.get("/customers/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


# ---- 404 and 500 pages ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls(BOOM_URLS)
@pytest.mark.parametrize(
    ("how", "language", "not_found", "server_error"),
    [
        ({"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}, "en", "Page not found", "Something went wrong on our side"),
        ({"HTTP_ACCEPT_LANGUAGE": "tr-TR,tr;q=0.9"}, "tr", "Sayfa bulunamadı", "Bizim tarafımızda bir sorun oluştu"),
        ({"cookie": "tr", "HTTP_ACCEPT_LANGUAGE": "en"}, "tr", "Sayfa bulunamadı", "Bizim tarafımızda bir sorun"),
        ({"cookie": "en", "HTTP_ACCEPT_LANGUAGE": "tr"}, "en", "Page not found", "Something went wrong on our side"),
    ],
)
def test_404_and_500_are_kervans_own_pages_in_the_ui_language(how, language, not_found, server_error):
    assert settings.DEBUG is False
    client = Client(raise_request_exception=False)
    headers = dict(how)
    if cookie := headers.pop("cookie", None):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie

    missing = client.get("/no/such/page/", **headers)
    html = missing.content.decode()
    assert missing.status_code == 404
    assert f'<html lang="{language}">' in html and not_found in html
    assert 'href="/"' in html  # a way on
    assert "URLconf" not in html and "Using the URLconf" not in html

    crashed = client.get("/boom/", **headers)
    html = crashed.content.decode()
    assert crashed.status_code == 500
    assert f'<html lang="{language}">' in html and server_error in html
    assert "Traceback" not in html and "RuntimeError" not in html and "boom" not in html


@pytest.mark.django_db
def test_a_missing_page_keeps_the_top_bar_for_a_signed_in_user(admin_client):
    response = admin_client.get("/customers/no-such-thing/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert 'class="topbar"' in response.content.decode()


@pytest.mark.django_db
def test_an_api_path_that_does_not_exist_still_answers_json():
    response = Client().get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_favicon_is_served():
    client = Client()
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico["Content-Type"] == "image/x-icon"
    assert b"".join(ico.streaming_content)[:4] == b"\x00\x00\x01\x00"
    svg = client.get("/static/kervan/favicon.svg")
    assert svg.status_code == 200 and b"<svg" in b"".join(svg.streaming_content)


# ---- createsuperuser -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_createsuperuser_makes_an_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "kervan-first-admin-pw")
    call_command("createsuperuser", interactive=False, username="kurucu", email="kurucu@example.com", verbosity=0)
    user = User.objects.get(username="kurucu")
    assert user.role == Role.ADMIN and user.is_superuser and user.is_staff
    assert user.check_password("kervan-first-admin-pw")

    client = Client()
    client.force_login(user)
    assert client.get("/imports/").status_code == 200  # an Admin may import; a Read-only user may not


@pytest.mark.django_db
def test_create_user_still_defaults_to_read_only():
    assert User.objects.create_user("izleyen", password="x" * 12).role == Role.READ_ONLY


# ---- API docs without internet -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_docs_reference_only_local_assets_and_they_are_served():
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), f"{asset} is not served by Kervan"
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content), asset
    assert "cdn" not in html.lower() and "http://" not in html and "https://" not in html
    assert client.get("/api/v1/openapi.json").status_code == 200


# ---- SQLite: a request while another process holds the write lock -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    """Kervan as `make run` serves it (granian, config.settings.local, DEBUG off) on a SQLite file, with a lock-wait
    limit of 1 s for web requests; yields (base url, database path, API key). SQLite's case: run by the SQLite suite."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the SQLite write lock; the PostgreSQL lock limit is test_database_outage.py's")
    var = tmp_path_factory.mktemp("sqlite-serving")
    db = var / "kervan.sqlite3"
    env = _env(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{db}",
        KERVAN_VAR_DIR=str(var),
        KERVAN_WEB_LOCK_TIMEOUT="1s",
    )
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=180)
    make_key = (
        "from kervan.accounts.models import ApiKey\n"
        "from kervan.accounts.permissions import area_keys\n"
        "prefix, secret = ApiKey.generate_secret()\n"
        "ApiKey.objects.create(name='lock test', prefix=prefix, key_hash=ApiKey.hash_secret(secret),"
        " scopes={d: 'write' for d in area_keys()})\n"
        "print('KEY=' + secret)\n"
        "from kervan.accounts.models import User\n"
        "User.objects.create_user('kilit', password='kervan-lock-pw', role='admin')\n"
    )
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", make_key], cwd=ROOT, env=env, check=True, timeout=120, capture_output=True
    )
    key = re.search(r"KEY=(\S+)", done.stdout.decode()).group(1)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "granian"),
            "--interface",
            "asginl",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"granian did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.2)
        yield url, db, key
    finally:
        server.terminate()
        server.wait(timeout=20)


def _post_customer(url: str, key: str, email: str) -> tuple[int, float, dict, bytes]:
    request = urllib.request.Request(
        f"{url}/api/v1/customers/",
        data=json.dumps({"email": email}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, time.monotonic() - started, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started, dict(error.headers.items()), error.read()


def _hold_write_lock(db: Path, seconds: float) -> threading.Thread:
    """Another process's write transaction (an import, the task worker) on the SQLite file for `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE accounts_user SET first_name = first_name")
        taken.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    return thread


def _customer_count(db: Path, email: str) -> int:
    with sqlite3.connect(db) as reader:
        return reader.execute("SELECT count(*) FROM customers_customer WHERE email = ?", [email]).fetchone()[0]


def test_sqlite_a_write_during_a_short_lock_waits_and_succeeds(sqlite_server):
    url, db, key = sqlite_server
    assert _post_customer(url, key, "once.free@example.com")[0] == 201  # the key is known, the tables warm

    holder = _hold_write_lock(db, 0.6)
    status, waited, _, body = _post_customer(url, key, "waited@example.com")
    holder.join()
    assert status == 201, body
    assert waited >= 0.4  # it waited for the lock, and got it
    assert _customer_count(db, "waited@example.com") == 1


def test_sqlite_a_write_during_a_long_lock_is_answered_503_with_retry_after_never_500(sqlite_server):
    url, db, key = sqlite_server
    holder = _hold_write_lock(db, 3)
    status, waited, headers, body = _post_customer(url, key, "too.long@example.com")
    holder.join()
    assert status == 503, body
    assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "5"
    assert json.loads(body)["code"] == "database_unavailable"
    assert 0.8 <= waited < 2.8  # gave up at the web lock-wait limit (1 s), not when the lock went
    assert _customer_count(db, "too.long@example.com") == 0
    # The lock gone, the same request succeeds.
    assert _post_customer(url, key, "too.long@example.com")[0] == 201


def test_sqlite_a_page_during_a_long_lock_is_a_friendly_503(sqlite_server):
    """A page that writes (signing in writes the session and the last login) while the lock is held too long."""
    url, db, _ = sqlite_server
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login = opener.open(f"{url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    credentials = {"csrfmiddlewaretoken": token, "username": "kilit", "password": "kervan-lock-pw"}
    data = urllib.parse.urlencode(credentials).encode()
    holder = _hold_write_lock(db, 3)
    try:
        opener.open(urllib.request.Request(f"{url}/accounts/login/", data=data, headers={"Referer": url}), timeout=10)
        raise AssertionError("the sign-in answered 2xx/3xx while the database was locked")
    except urllib.error.HTTPError as error:
        status, headers, html = error.code, error.headers, error.read().decode()
    holder.join()
    assert status == 503, html
    assert headers["Retry-After"] == "5"
    assert "Traceback" not in html and "database is locked" not in html
    assert "Veritabanına şu anda ulaşılamıyor" in html  # Turkish, the default language
