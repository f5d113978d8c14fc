"""The SMS length count the editor shows and the sender relies on: GSM-7 or UCS-2, characters, parts (GSM 03.38,
concatenation headers), with the Turkish letters that change the encoding."""

import json
import re
from pathlib import Path

import pytest

from kervan.messaging.channels.sms import length
from kervan.messaging.channels.sms.length import SmsLength, sms_parts


def test_plain_text_is_one_gsm7_part():
    assert sms_parts("Merhaba Ayse, siparisin yolda.") == SmsLength("GSM-7", 30, 1, 160)


def test_an_empty_text_has_no_parts():
    assert sms_parts("") == SmsLength("GSM-7", 0, 0, 160)


@pytest.mark.parametrize(
    ("size", "parts", "per_part"), [(160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153), (459, 3, 153)]
)
def test_gsm7_one_part_holds_160_and_concatenated_parts_153(size, parts, per_part):
    assert sms_parts("a" * size) == SmsLength("GSM-7", size, parts, per_part)


@pytest.mark.parametrize("char", list("^{}\\[~]|€"))
def test_the_extension_table_costs_two_and_stays_gsm7(char):
    assert sms_parts(f"Fiyat {char}") == SmsLength("GSM-7", 8, 1, 160)


def test_eighty_euro_signs_fill_one_part():
    assert sms_parts("€" * 80).parts == 1 and sms_parts("€" * 81) == SmsLength("GSM-7", 162, 2, 153)


def test_an_escape_pair_is_never_split_across_parts():
    # 152 + 2 + 152 = 306 septets would fit two parts of 153, but the € cannot straddle them.
    assert sms_parts("a" * 152 + "€" + "a" * 151).parts == 2
    assert sms_parts("a" * 152 + "€" + "a" * 152) == SmsLength("GSM-7", 306, 3, 153)


@pytest.mark.parametrize("char", list("şŞğĞıİç"))
def test_turkish_letters_outside_gsm7_make_it_ucs2(char):
    assert sms_parts(f"Indirim {char}").encoding == "UCS-2"


@pytest.mark.parametrize("char", list("ÇÖöÜüÄäÑñéèùìòÅåØøÆæßÉ¡¿§£¥@$_"))
def test_letters_of_the_gsm7_table_stay_gsm7(char):
    assert sms_parts(f"Indirim {char}") == SmsLength("GSM-7", 9, 1, 160)


def test_one_turkish_letter_changes_the_count_of_the_whole_message():
    text = "Sepetinizde urunler sizi bekliyor. Bugune ozel kargo bedava, kacirmayin! Cikis: RET"
    assert sms_parts(text) == SmsLength("GSM-7", 83, 1, 160)
    assert sms_parts(text.replace("kacirmayin", "kaçırmayın")) == SmsLength("UCS-2", 83, 2, 67)


@pytest.mark.parametrize(("size", "parts", "per_part"), [(70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67)])
def test_ucs2_one_part_holds_70_and_concatenated_parts_67(size, parts, per_part):
    assert sms_parts("ş" * size) == SmsLength("UCS-2", size, parts, per_part)


def test_an_emoji_counts_two_and_is_never_split():
    assert sms_parts("Kargo 🚚") == SmsLength("UCS-2", 8, 1, 70)
    assert sms_parts("ş" * 66 + "🚚" + "ş" * 65).parts == 2
    assert sms_parts("ş" * 66 + "🚚" + "ş" * 66) == SmsLength("UCS-2", 134, 3, 67)


JS = Path(length.__file__).parents[2] / "static" / "messaging" / "sms_length.js"


def _js_string_set(name: str) -> set[str]:
    """The characters of `var NAME = new Set(Array.from("…" + "…"))` in the editor's twin."""
    source = JS.read_text(encoding="utf-8")
    match = re.search(rf"var {name} = new Set\(Array\.from\((.*?)\)\);", source, re.S)
    assert match, f"{name} not found in {JS.name}"
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
    return set("".join(json.loads(f'"{literal}"') for literal in literals))


def test_the_editors_javascript_twin_has_the_same_tables_and_limits():
    assert _js_string_set("GSM7_BASIC") == set(length.GSM7_BASIC)
    assert _js_string_set("GSM7_EXTENDED") == set(length.GSM7_EXTENDED)
    source = JS.read_text(encoding="utf-8")
    assert "GSM7_SINGLE = 160, GSM7_MULTI = 153" in source and "UCS2_SINGLE = 70, UCS2_MULTI = 67" in source
