"""Turkish-aware text folding for search.

Python's str.lower() maps "I" to "i" and "İ" to "i̇" (i + combining dot), which is wrong for Turkish.
`search_fold` lowers the Turkish way first (I→ı, İ→i) and then drops diacritics, so that a search typed
with or without Turkish letters matches: "ışık", "IŞIK" and "isik" all fold to "isik", and "İstanbul",
"istanbul" and "ISTANBUL" all fold to "istanbul".
"""

import re
import unicodedata

_TURKISH_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_ASCII_FOLD = str.maketrans({"ı": "i", "ş": "s", "ğ": "g", "ç": "c", "ö": "o", "ü": "u", "â": "a", "î": "i", "û": "u"})
_SPACES = re.compile(r"\s+")


def turkish_lower(value: str) -> str:
    return value.translate(_TURKISH_LOWER).lower()


def search_fold(value: str) -> str:
    folded = turkish_lower(value).translate(_ASCII_FOLD)
    if not folded.isascii():
        folded = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
        # Compatibility forms can decompose to capitals ("𝜜" → "Α"): lower once more so folding twice changes nothing.
        folded = folded.lower()
    return _SPACES.sub(" ", folded).strip()
