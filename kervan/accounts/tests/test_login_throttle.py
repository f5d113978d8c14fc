"""Sign-in throttling (kervan.accounts.login_throttle): per account and per address, a short lock with a clear
message, no hint whether an account exists, and a stranger cannot keep the owner of an account out."""

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from kervan.accounts.permissions import Role
from kervan.accounts.testing import make_role_user
from kervan.core import clock

PASSWORD = "Kervan-2026-strong"
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ayse(db):
    return make_role_user(Role.SUPPORT, username="ayse", password=PASSWORD)


@pytest.fixture
def frozen():
    with clock.frozen():
        yield


def sign_in(client: Client, username: str, password: str, address: str = "203.0.113.5"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def sign_out(client: Client) -> None:
    """Log out as the browser does: the session ends, the browser's other cookies stay (Client.logout drops all)."""
    client.post(reverse("accounts:logout"))


def lock_message(response) -> str:
    found = re.search(r'data-testid="login-locked">([^<]*)<', response.content.decode())
    return found.group(1) if found else ""


def test_five_wrong_passwords_then_a_short_lock_with_a_clear_message(ayse, frozen):
    client = Client()
    for _ in range(5):
        response = sign_in(client, "ayse", "wrong")
        assert response.status_code == 200 and b"Username or password is wrong" in response.content
    locked = sign_in(client, "ayse", PASSWORD)  # even the right password waits: it is not even checked
    assert locked.status_code == 429 and not signed_in(client)
    assert lock_message(locked) == "Too many failed sign-in attempts. Wait 5 minutes, then try again."
    assert locked["Retry-After"] == "300"
    clock.advance(dt.timedelta(minutes=4))
    assert sign_in(client, "ayse", PASSWORD).status_code == 429
    clock.advance(dt.timedelta(minutes=1, seconds=1))
    response = sign_in(client, "ayse", PASSWORD)  # the lock has expired: minutes, not hours
    assert response.status_code == 302 and signed_in(client)


def test_two_hundred_guesses_in_a_minute_are_not_all_answered(ayse, frozen, django_assert_max_num_queries):
    client = Client()
    statuses = [sign_in(client, "ayse", f"guess-{i}").status_code for i in range(200)]
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}


def test_a_correct_password_clears_the_count(ayse, frozen):
    client = Client()
    for _ in range(4):
        sign_in(client, "ayse", "wrong")
    assert sign_in(client, "ayse", PASSWORD).status_code == 302
    other = Client()
    for _ in range(4):
        assert sign_in(other, "ayse", "wrong").status_code == 200
    assert sign_in(other, "ayse", PASSWORD).status_code == 302


def test_an_unknown_username_is_answered_exactly_like_a_real_one(ayse, frozen):
    real, ghost = Client(), Client()
    real_answers = [sign_in(real, "ayse", "wrong", "198.51.100.1") for _ in range(6)]
    ghost_answers = [sign_in(ghost, "nobody", "wrong", "198.51.100.2") for _ in range(6)]
    assert [r.status_code for r in real_answers] == [r.status_code for r in ghost_answers] == [200] * 5 + [429]
    assert lock_message(real_answers[-1]) == lock_message(ghost_answers[-1]) != ""
    assert real_answers[-1]["Retry-After"] == ghost_answers[-1]["Retry-After"]


def test_the_username_is_counted_whatever_its_case_or_spaces(ayse, frozen):
    client = Client()
    for name in ("ayse", "AYSE", " Ayse ", "ayse", "aYse"):
        sign_in(client, name, "wrong")
    assert sign_in(client, "ayse", PASSWORD).status_code == 429


def test_one_address_guessing_many_accounts_is_locked(ayse, frozen, settings):
    settings.KERVAN_LOGIN_THROTTLE = {**settings.KERVAN_LOGIN_THROTTLE, "address_failures": 10}
    client = Client()
    statuses = [sign_in(client, f"user{i}", "wrong").status_code for i in range(11)]
    assert statuses == [200] * 10 + [429]
    assert sign_in(client, "ayse", PASSWORD).status_code == 429  # this address waits
    assert sign_in(Client(), "ayse", PASSWORD, address="198.51.100.7").status_code == 302  # others do not


def test_signing_in_to_ones_own_account_does_not_clear_an_address(ayse, frozen, settings):
    settings.KERVAN_LOGIN_THROTTLE = {**settings.KERVAN_LOGIN_THROTTLE, "address_failures": 4}
    attacker = Client()
    for i in range(4):
        sign_in(attacker, f"victim{i}", "guess")
        sign_in(attacker, "ayse", PASSWORD)  # their own account, between guesses
        sign_out(attacker)
    assert sign_in(attacker, "victim9", "guess").status_code == 429


def test_a_stranger_cannot_keep_the_owner_out_of_their_account(ayse, frozen):
    owner = Client()
    assert sign_in(owner, "ayse", PASSWORD, "198.51.100.20").status_code == 302  # her usual browser
    sign_out(owner)
    stranger = Client()
    for _ in range(6):
        sign_in(stranger, "ayse", "guess", "203.0.113.66")
    assert sign_in(stranger, "ayse", PASSWORD, "203.0.113.66").status_code == 429
    assert sign_in(Client(), "ayse", PASSWORD, "198.51.100.21").status_code == 429  # a browser never used before
    # Her own browser carries the device cookie: it is counted on its own, and she gets in.
    assert sign_in(owner, "ayse", PASSWORD, "198.51.100.20").status_code == 302 and signed_in(owner)


def test_a_device_cookie_for_another_account_or_forged_does_not_help(ayse, frozen):
    other = make_role_user(Role.SUPPORT, username="mehmet", password=PASSWORD)
    browser = Client()
    assert sign_in(browser, other.username, PASSWORD).status_code == 302
    sign_out(browser)
    assert browser.cookies["kervan_device"].value
    for _ in range(6):
        sign_in(Client(), "ayse", "guess", "203.0.113.66")
    assert sign_in(browser, "ayse", PASSWORD).status_code == 429
    forged = Client()
    forged.cookies["kervan_device"] = "eyJ1IjoiYWJjIn0:forged:signature"
    assert sign_in(forged, "ayse", PASSWORD).status_code == 429


def test_the_lock_message_in_turkish(ayse, frozen):
    client = Client()
    client.cookies["django_language"] = "tr"
    for _ in range(5):
        sign_in(client, "ayse", "wrong")
    locked = sign_in(client, "ayse", PASSWORD)
    assert locked.status_code == 429
    assert lock_message(locked) == "Çok fazla başarısız giriş denemesi. 5 dakika bekleyip yeniden deneyin."


def test_the_login_page_still_works_for_get_and_redirects_signed_in_users(ayse):
    client = Client()
    assert client.get(reverse("accounts:login")).status_code == 200
    assert sign_in(client, "ayse", PASSWORD).status_code == 302
