"""An import's report in the language of whoever reads it.

A job runs in the background with no reader, so its report (each row problem's reason, a failed job's `failure`)
is stored in the catalogue's own language, English: the text of the message id with its values filled in. Shown to
someone, a stored text is put back into their language here: a text that is a message id is looked up as it is;
one made from a message id with placeholders ("'%(value)s' is not a date…") is matched against the catalogue's
message ids, its values taken out, and the translated message filled in with them — values that are themselves
messages (a field's name, a nested detail) translated the same way, the cell's own text (`value`) never.

A text no message id matches (a report stored before this, in another language) is shown as stored."""

import re
from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from django.utils.translation.trans_real import translation as catalogue_for

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Values the user wrote (a cell, a SKU, an order number, a file name): never translated.
VERBATIM = {"value", "sku", "number", "name", "error", "limit", "low", "high", "max", "choices", "count", "n"}
VERBATIM |= {"first", "other"}  # two cells of an order's rows that disagree (kervan.imports.orders_plan)
# A message id must have at least this much fixed text to be matched: "%(field)s: %(message)s" alone is too loose.
MIN_FIXED = 6
DEPTH = 3


def stored_language():
    """What an import runs in: no translation, so stored texts are the catalogue's message ids filled in."""
    return translation.override(None)


def localized(text: str) -> str:
    """`text` (stored by an import run) in the active language."""
    language = translation.get_language()
    if not text or not language or language.startswith("en"):
        return text
    return _localized(language, text, DEPTH)


@lru_cache(maxsize=20_000)
def _localized(language: str, text: str, depth: int) -> str:
    # The catalogue is read directly, not through gettext: most stored texts are not message ids, and asking
    # gettext would count each as a missing translation (the translation test watches gettext for those).
    catalogue = catalogue_for(language)._catalog
    translated = catalogue.get(text)
    if isinstance(translated, str):
        return translated
    for pattern, msgid in _patterns(language):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        params: dict[str, object] = {}
        for name, value in match.groupdict().items():
            if f"%({name})d" in msgid:
                params[name] = int(value)
            elif name in VERBATIM or depth <= 1:
                params[name] = value
            else:
                params[name] = _localized(language, value, depth - 1)
        try:
            return catalogue.get(msgid, msgid) % params
        except (KeyError, TypeError, ValueError):
            return text
    return text


@lru_cache(maxsize=8)
def _patterns(language: str) -> list[tuple[re.Pattern, str]]:
    """The catalogue's message ids with named placeholders, as patterns, the most specific (most fixed text) first."""
    patterns = []
    for msgid in catalogue_for(language)._catalog.keys():  # noqa: SIM118 - a TranslationCatalog has no __iter__
        if not isinstance(msgid, str) or "%(" not in msgid:
            continue
        names = PLACEHOLDER.findall(msgid)
        fixed = PLACEHOLDER.sub("", msgid)
        if len(fixed) < MIN_FIXED or len(set(names)) != len(names) or "%" in fixed.replace("%%", ""):
            continue
        parts = []
        last = 0
        for found in PLACEHOLDER.finditer(msgid):
            parts.append(re.escape(msgid[last : found.start()].replace("%%", "%")))
            name = found.group(1)
            parts.append(f"(?P<{name}>.+?)" if found.group(0).endswith("s") else f"(?P<{name}>-?\\d+)")
            last = found.end()
        parts.append(re.escape(msgid[last:].replace("%%", "%")))
        patterns.append((len(fixed), re.compile("".join(parts), re.DOTALL), msgid))
    patterns.sort(key=lambda p: -p[0])
    return [(pattern, msgid) for _fixed, pattern, msgid in patterns]


@receiver(setting_changed)
def _forget(*, setting: str, **_kwargs) -> None:
    """The catalogues are loaded again when these settings change (tests): forget what was read from them."""
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"):
        _localized.cache_clear()
        _patterns.cache_clear()
