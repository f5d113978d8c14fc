"""Email addresses: normalize_email (the address to store and show) and email_match_key (the mailbox it reaches)."""

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError

# Mailboxes to vary: ASCII locals anywhere, Turkish letters outside Gmail (Gmail allows none).
ASCII_LOCAL = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=16)
TURKISH_LOCAL = st.text("abcçdefgğhıijklmnoöprsştuüvyz0123456789", min_size=1, max_size=16)
# No dotless ı in a domain: "gmaıl.com" is another domain than "gmail.com", and upper case cannot tell them apart.
OTHER_DOMAINS = st.sampled_from(["example.com", "şirket.com.tr", "istanbul.com", "çiçek.com.tr", "müller.de"])


@st.composite
def mailboxes(draw) -> tuple[str, str]:
    """(local part, domain) in lower case, as someone would say their address."""
    if draw(st.booleans()):
        return draw(ASCII_LOCAL), draw(st.sampled_from(["gmail.com", "googlemail.com"]))
    return draw(TURKISH_LOCAL), draw(OTHER_DOMAINS)


def turkish_upper(text: str) -> str:
    """What Turkish Caps Lock types: i → İ, ı → I."""
    return text.replace("i", "İ").replace("ı", "I").upper()


@st.composite
def typed_forms(draw, local: str, domain: str) -> str:
    """One way `local@domain` reaches a form: case, Turkish Caps Lock, str.lower() of it, NFC or NFD, spaces around,
    and for Gmail dots, a +tag and googlemail.com."""
    if domain in ("gmail.com", "googlemail.com"):
        letters = list(local)
        for position in draw(st.lists(st.integers(0, len(local)), max_size=3)):
            letters.insert(min(position, len(letters)), ".")
        local = "".join(letters)
        if draw(st.booleans()):
            local += "+" + draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789.-", max_size=8))
        domain = draw(st.sampled_from(["gmail.com", "googlemail.com"]))
    address = f"{local}@{domain}"
    case = draw(st.sampled_from(["as is", "upper", "turkish upper", "lowered turkish upper", "title"]))
    if case == "upper":
        address = address.upper()
    elif case == "turkish upper":
        address = turkish_upper(address)
    elif case == "lowered turkish upper":
        address = turkish_upper(address).lower()  # "İ" → "i̇": what str.lower() and JavaScript leave
    elif case == "title":
        address = address.title()
    address = unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), address)
    return draw(st.sampled_from(["", " ", "\t"])) + address + draw(st.sampled_from(["", " ", "\n"]))


@st.composite
def variants(draw) -> list[str]:
    local, domain = draw(mailboxes())
    return [draw(typed_forms(local, domain)) for _ in range(draw(st.integers(2, 6)))]


@given(variants())
def test_every_typed_form_of_a_mailbox_has_one_key(forms):
    keys = {email_match_key(form) for form in forms}
    assert len(keys) == 1, (forms, keys)


@given(st.one_of(variants(), st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=1)))
def test_normalising_is_idempotent_and_leaves_one_form(forms):
    raw = forms[0]
    try:
        shown = normalize_email(raw)
    except KervanError as exc:
        assert exc.code == "invalid_email"
        return
    key = email_match_key(raw)
    assert normalize_email(shown) == shown and email_match_key(shown) == key and email_match_key(key) == key
    assert normalize_email(key) == key  # a key is an address too
    assert unicodedata.is_normalized("NFC", shown) and "i\u0307" not in shown and shown == shown.lower()
    assert shown.rpartition("@")[2].isascii()


@given(st.text(max_size=60).map(lambda t: t.replace("\x00", "")), st.text(max_size=30))
def test_anything_is_an_address_or_invalid_email(local, domain):
    for raw in (local, f"{local}@{domain}", f"{local}@{domain}.com"):
        try:
            normalize_email(raw)
            email_match_key(raw)
        except KervanError as exc:
            assert exc.code == "invalid_email"


@given(ASCII_LOCAL, ASCII_LOCAL)
def test_different_mailboxes_keep_different_keys(a, b):
    assume(a != b)
    assert email_match_key(f"{a}@example.com") != email_match_key(f"{b}@example.com")
    assume(a.replace(".", "") != b.replace(".", ""))
    assert email_match_key(f"{a}@gmail.com") != email_match_key(f"{b}@gmail.com")


@pytest.mark.parametrize(
    ("raw", "shown", "key"),
    [
        (" Ismail.Isik@Example.com ", "ismail.isik@example.com", "ismail.isik@example.com"),
        ("İSMAİL@EXAMPLE.COM", "ismail@example.com", "ismail@example.com"),  # Turkish Caps Lock
        ("i\u0307smai\u0307l@example.com", "ismail@example.com", "ismail@example.com"),  # str.lower() of it
        ("ali@GMAİL.COM", "ali@gmail.com", "ali@gmail.com"),  # İ in the domain
        ("I\u0307SMAIL@example.com", "ismail@example.com", "ismail@example.com"),  # NFD İ
        ("AYŞE@ŞİRKET.COM.TR", "ayşe@xn--irket-idb.com.tr", "ayşe@xn--irket-idb.com.tr"),
        ("ayşe@xn--irket-idb.com.tr", "ayşe@xn--irket-idb.com.tr", "ayşe@xn--irket-idb.com.tr"),
        ("yılmaz@example.com", "yılmaz@example.com", "yilmaz@example.com"),  # shown as typed, matched as YILMAZ
        ("Ali.Veli+Shop@GoogleMail.com", "ali.veli+shop@googlemail.com", "aliveli@gmail.com"),
        ("a.l.i@gmail.com", "a.l.i@gmail.com", "ali@gmail.com"),
        ("+tag@gmail.com", "+tag@gmail.com", "+tag@gmail.com"),  # no mailbox name left to fold to
        ("ali.veli+shop@outlook.com", "ali.veli+shop@outlook.com", "ali.veli+shop@outlook.com"),
    ],
)
def test_shown_as_typed_matched_by_mailbox(raw, shown, key):
    assert normalize_email(raw) == shown
    assert email_match_key(raw) == key


@pytest.mark.parametrize(
    "raw",
    [
        "nope",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        "@example.com",
        "a@example..com",
        "a@-example.com",
        "a@exa_mple.com",
        "a@xn--zz.com",  # not punycode
        "a@exa mple.com",
        "a@" + "x" * 64 + ".com",  # a label is at most 63
        "a" * 250 + "@example.com",
        "ali@şirket..com",
    ],
)
def test_invalid_addresses_are_refused_with_invalid_email(raw):
    with pytest.raises(KervanError) as exc:
        normalize_email(raw, field="contact")
    assert (exc.value.code, exc.value.field) == ("invalid_email", "contact")
    with pytest.raises(KervanError):
        email_match_key(raw)
