"""Knowledge-base search that understands Turkish, on PostgreSQL and on SQLite alike.

Both databases index the same words: each text folded the Turkish way (kervan.core.text.search_fold: "IŞIK",
"ışık" and "isik" are one word, "İadeler" is "iadeler"). A query's words are folded the same way, stripped of common
Turkish suffixes here ("kargom" → "kargo", "iadeler" → "iade", "siparişim" → "siparis") and looked up as prefixes,
all of them first and any of them when all together find nothing — so "iade" finds "İadeler ve değişim" and "kargom
nerede" finds "Kargo takibi: siparişim nerede?".

- PostgreSQL: a `search` tsvector column on support_articletranslation (added by migration 0001, GIN-indexed) holding
  the folded words ('simple' configuration, titles weighted A, bodies B) and the title's words as the `turkish`
  (or `english`) configuration stems them; the query matches either, and ts_rank orders the articles. Folding in
  Python rather than with the unaccent extension keeps the Turkish dotted/dotless I right, which unaccent and
  lower() under the server's locale do not.
- SQLite: an FTS5 table support_kb_fts (rowid = the translation's id) over the folded title and body, ordered by
  bm25 with the title weighted.

The actions keep the index in step (index() after every save); reindex() rebuilds it whole.
"""

import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from kervan.core import clock
from kervan.core.text import search_fold, turkish_lower
from kervan.support.markup import plain
from kervan.support.models import ArticleTranslation, SearchMiss

QUERY_MAX = 200
MAX_WORDS = 8
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = {
    "tr": {
        "ve", "ile", "bir", "bu", "su", "o", "mi", "mu", "da", "de", "ki", "ne", "icin", "gibi", "ama", "veya", "ya",
        "cok", "daha", "en", "her", "nasil", "neden", "nicin", "ben", "sen", "biz", "siz", "var", "yok",
    },
    "en": {
        "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "is", "are", "how", "do", "does", "i", "my",
        "what", "can", "with", "it", "be", "me", "at", "by", "your",
    },
}  # fmt: skip
# Folded (ASCII) Turkish suffixes: plural, possessive, case endings. Longest first; a word keeps at least 3 letters.
_TR_SUFFIXES = sorted(
    {
        "lerimiz", "larimiz", "leriniz", "lariniz", "lerim", "larim", "leri", "lari", "ler", "lar",
        "imiz", "umuz", "iniz", "unuz", "dan", "den", "tan", "ten", "nin", "nun", "yla", "yle", "la", "le",
        "da", "de", "ta", "te", "ya", "ye", "yi", "yu", "in", "un", "im", "um", "si", "su", "m", "i", "u", "a", "e",
    },
    key=len,
    reverse=True,
)  # fmt: skip
_EN_SUFFIXES = ("ing", "ies", "es", "ed", "s")


def stem(word: str, language: str) -> str:
    """A folded word without its common endings: crude, but it is only a prefix to look for."""
    if language == "tr":
        for _round in range(2):
            for suffix in _TR_SUFFIXES:
                if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                    word = word[: -len(suffix)]
                    break
            else:
                break
        return word
    for suffix in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Query:
    """A search as typed, and what is looked for: (folded stem, the word in lower case) per word."""

    text: str
    folded: str
    language: str
    words: tuple[tuple[str, str], ...]


def parse(text: str, language: str) -> Query:
    text = (text or "").replace("\x00", "")[:QUERY_MAX].strip()
    words: list[tuple[str, str]] = []
    for raw in _WORD.findall(text):
        folded = search_fold(raw)
        if len(folded) < 2 or folded in STOPWORDS[language]:
            continue
        pair = (stem(folded, language), turkish_lower(raw))
        if pair not in words:
            words.append(pair)
    return Query(text=text, folded=search_fold(text)[:QUERY_MAX], language=language, words=tuple(words[:MAX_WORDS]))


def _document(translation: ArticleTranslation) -> tuple[str, str]:
    return translation.title, plain(translation.body)


# ---------------------------------------------------------------- the index


def index(translation_ids: list[int]) -> None:
    """Bring the index up to date for these translations (rows gone from the table leave the index too)."""
    ids = list(translation_ids)
    if not ids:
        return
    rows = {t.pk: t for t in ArticleTranslation.objects.filter(pk__in=ids).only("pk", "language", "title", "body")}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for translation in rows.values():
                title, body = _document(translation)
                config = "turkish" if translation.language == "tr" else "english"
                # The title both folded and stemmed; the body folded only: a body's stems would double the vector
                # that every search reads, for matches its folded prefixes already make.
                cursor.execute(
                    "UPDATE support_articletranslation SET search ="
                    " setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector(%s::regconfig, %s), 'A')"
                    " || setweight(to_tsvector('simple', %s), 'B') WHERE id = %s",
                    [search_fold(title), config, turkish_lower(title), search_fold(body), translation.pk],
                )
        else:
            cursor.executemany("DELETE FROM support_kb_fts WHERE rowid = %s", [[pk] for pk in ids])
            cursor.executemany(
                "INSERT INTO support_kb_fts (rowid, title, body) VALUES (%s, %s, %s)",
                [[t.pk, search_fold(_document(t)[0]), search_fold(_document(t)[1])] for t in rows.values()],
            )


def reindex() -> int:
    """Rebuild the whole index (after a restore, or a bulk load that bypassed the actions). Returns the rows."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM support_kb_fts")
    ids = list(ArticleTranslation.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 500):
        index(ids[start : start + 500])
    return len(ids)


# ---------------------------------------------------------------- searching


def _matching_ids(query: Query, *, every_word: bool, limit: int, published_only: bool) -> list[int]:
    status = "AND a.status = 'published'" if published_only else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            config = "turkish" if query.language == "tr" else "english"
            parts, params = [], []
            for folded, lowered in query.words:
                parts.append("(to_tsquery('simple', %s) || plainto_tsquery(%s::regconfig, %s))")
                params += [f"{folded}:*", config, lowered]
            joined = (" && " if every_word else " || ").join(parts)
            cursor.execute(
                f"WITH q AS (SELECT {joined} AS q) "  # noqa: S608 - only placeholders are interpolated
                "SELECT t.id FROM q, support_articletranslation t JOIN support_article a ON a.id = t.article_id "
                f"WHERE t.language = %s {status} AND t.search @@ q.q "
                "ORDER BY ts_rank(t.search, q.q) DESC, t.id LIMIT %s",
                [*params, query.language, limit],
            )
        else:
            # Words are letters and digits only (parse), so quoting them is all FTS5's syntax needs.
            match = (" AND " if every_word else " OR ").join(f'"{folded}"*' for folded, _lowered in query.words)
            cursor.execute(
                "SELECT t.id FROM support_kb_fts f JOIN support_articletranslation t ON t.id = f.rowid "
                "JOIN support_article a ON a.id = t.article_id "
                f"WHERE support_kb_fts MATCH %s AND t.language = %s {status} "  # noqa: S608
                "ORDER BY bm25(support_kb_fts, 4.0, 1.0), t.id LIMIT %s",
                [match, query.language, limit],
            )
        return [row[0] for row in cursor.fetchall()]


def search(
    text: str, language: str, *, limit: int = 20, published_only: bool = True, record_miss: bool = False
) -> tuple[Query, list[ArticleTranslation]]:
    """The articles (their translations in `language`, with article and category loaded) that match `text`, best
    first: those with every word, or if there are none those with any. An empty result for a real query is
    recorded as a SearchMiss when `record_miss`."""
    query = parse(text, language)
    if not query.words:
        return query, []
    ids = _matching_ids(query, every_word=True, limit=limit, published_only=published_only)
    if not ids and len(query.words) > 1:
        ids = _matching_ids(query, every_word=False, limit=limit, published_only=published_only)
    if not ids:
        if record_miss:
            record_search_miss(query)
        return query, []
    found = ArticleTranslation.objects.select_related("article__category").in_bulk(ids)
    return query, [found[pk] for pk in ids if pk in found]


def record_search_miss(query: Query) -> None:
    """Count one search that found nothing (per folded query and language)."""
    now = clock.now()
    key = {"query": query.folded[:200], "language": query.language}
    if SearchMiss.objects.filter(**key).update(count=F("count") + 1, last_seen=now):
        return
    try:
        with transaction.atomic():
            SearchMiss.objects.create(**key, count=1, first_seen=now, last_seen=now)
    except IntegrityError:  # another request recorded it first
        SearchMiss.objects.filter(**key).update(count=F("count") + 1, last_seen=now)
