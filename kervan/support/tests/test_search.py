"""Search that understands Turkish, the same on SQLite (FTS5) and PostgreSQL (tsvector): run this file with
DATABASE_URL=postgres://… as well."""

import pytest

from kervan.support import actions, search
from kervan.support.models import SearchMiss

pytestmark = pytest.mark.django_db


def slugs(text, language="tr", **options):
    _query, found = search.search(text, language, **options)
    return [t.article.slug for t in found]


def test_iade_finds_iadeler(kb):
    assert slugs("iade")[0] == "iadeler-ve-degisim"
    assert slugs("İADE")[0] == "iadeler-ve-degisim"
    assert slugs("iadeler")[0] == "iadeler-ve-degisim"


def test_kargom_nerede_finds_the_tracking_article(kb):
    found = slugs("kargom nerede")
    assert found[0] == "kargo-takibi"
    assert slugs("siparişim nerede")[0] == "kargo-takibi"
    assert slugs("Kargom nerede?")[0] == "kargo-takibi"


def test_dotted_and_dotless_i_and_no_accents(kb):
    for typed in ("IŞIK", "ışık", "isik", "Işık"):
        assert slugs(typed) == ["lamba-isik-rengi"], typed


def test_english_texts_are_searched_in_english(kb):
    assert slugs("returns", "en")[0] == "iadeler-ve-degisim"
    assert slugs("where is my order", "en")[0] == "kargo-takibi"
    assert slugs("light", "en") == ["lamba-isik-rengi"]
    # Each language searches its own texts: the Turkish-only article has no English text to find.
    assert slugs("teslimat", "en") == []


def test_drafts_are_never_found_and_unpublishing_hides(kb, editor):
    assert "gizli-kampanya" not in slugs("gizli kampanya")
    assert "gizli-kampanya" not in slugs("iade")
    assert slugs("gizli", published_only=False) == ["gizli-kampanya"]
    actions.article_unpublish(actor=editor, article=kb["lamp"])
    assert slugs("ışık") == []
    actions.article_publish(actor=editor, article=kb["lamp"])
    assert slugs("ışık") == ["lamba-isik-rengi"]


def test_an_edit_is_searchable_at_once_and_the_old_words_are_gone(kb, editor):
    actions.article_save(
        actor=editor,
        article=kb["payment"],
        category_id=kb["payment"].category_id,
        slug="odeme-yontemleri",
        texts={"tr": {"title": "Taksitli ödeme", "body": "Dört taksite kadar ödeyebilirsiniz."}},
    )
    assert slugs("taksit") == ["odeme-yontemleri"]
    assert slugs("havale") == []


def test_removing_a_language_removes_its_text_from_the_index(kb, editor):
    actions.article_save(
        actor=editor,
        article=kb["lamp"],
        category_id=kb["lamp"].category_id,
        slug="lamba-isik-rengi",
        texts={"tr": {"title": "Lambanın ışık rengi", "body": "Sıcak beyaz."}},
    )
    assert slugs("light", "en") == []
    assert slugs("ışık") == ["lamba-isik-rengi"]


def test_every_word_first_then_any_word(kb):
    # "teslimat" and "takip" are in different articles: none has both, so each article with either is found.
    assert set(slugs("teslimat takip")) == {"teslimat-sureleri", "kargo-takibi"}


def test_a_search_with_no_result_is_recorded_once_per_folded_query(kb):
    assert slugs("Fatura İptali", record_miss=True) == []
    assert slugs("fatura iptali", record_miss=True) == []
    assert slugs("fatura", "en", record_miss=True) == []
    assert slugs("iade", record_miss=True)  # found: not a miss
    rows = {(m.query, m.language): m.count for m in SearchMiss.objects.all()}
    assert rows == {("fatura iptali", "tr"): 2, ("fatura", "en"): 1}


def test_odd_input_is_harmless(kb):
    for typed in ('"', "*", "kargo*", "AND OR NOT", "-", "'; DROP TABLE x; --", "a" * 5000, "\x00iade", "ve", ""):
        search.search(typed, "tr", record_miss=True)  # no error
    assert "kargo-takibi" in slugs('"kargo"')  # quotes and operators are not search syntax here
    assert slugs("kargo*") == slugs("kargo")
    assert not SearchMiss.objects.filter(query="").exists()


def test_reindex_rebuilds_the_same_answers(kb):
    assert search.reindex() == 10
    assert slugs("kargom nerede")[0] == "kargo-takibi"
    assert slugs("IŞIK") == ["lamba-isik-rengi"]
