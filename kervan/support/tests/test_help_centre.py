"""The public help centre: plain HTML without JavaScript or a session, published articles only, escaped content,
cache-friendly answers, feedback once per reader and day, and rate limits answered 429."""

import datetime as dt
import re

import pytest
from django.test import Client

from kervan.support import actions
from kervan.support.models import ArticleFeedback, SearchMiss

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader():
    return Client(HTTP_USER_AGENT="Mozilla/5.0 reader", REMOTE_ADDR="203.0.113.7")


def token_of(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_index_lists_published_articles_by_category_in_each_language(kb, reader):
    tr = reader.get("/help/")
    assert tr.status_code == 200
    html = tr.content.decode()
    assert '<html lang="tr">' in html and tr["Content-Language"] == "tr"
    for title in ("İadeler ve değişim", "Kargo takibi: siparişim nerede?", "Teslimat süreleri", "Kargo ve teslimat"):
        assert title in html
    assert "Gizli kampanya" not in html  # the draft
    en = reader.get("/help/en/")
    html = en.content.decode()
    assert '<html lang="en">' in html and en["Content-Language"] == "en"
    assert "Returns and exchanges" in html and "Shipping" in html
    assert "Teslimat süreleri" not in html  # no English text: not on the English help centre
    assert "Secret sale" not in html
    assert 'href="/help/en/iadeler-ve-degisim/"' in html


def test_article_page_is_plain_html_with_the_text(kb, reader):
    response = reader.get("/help/iadeler-ve-degisim/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>İadeler ve değişim</h1>" in html
    assert "Ürünü teslim aldıktan sonra <strong>14 gün</strong> içinde geri gönderebilirsiniz." in html
    assert "<script" not in html  # nothing to run: the page works without JavaScript
    assert 'href="/help/category/iade/"' in html
    assert 'method="post" action="/help/iadeler-ve-degisim/feedback/"' in html
    english = reader.get("/help/en/iadeler-ve-degisim/").content.decode()
    assert "You can send a product back within <strong>14 days</strong> of delivery." in english


def test_category_page(kb, reader):
    html = reader.get("/help/category/kargo/").content.decode()
    assert "<h1>Kargo ve teslimat</h1>" in html
    assert "Kargo takibi: siparişim nerede?" in html and "Teslimat süreleri" in html
    assert reader.get("/help/en/category/kargo/").content.decode().count("<li>") == 1  # one English text
    assert reader.get("/help/category/nothing/").status_code == 404


def test_drafts_are_never_public(kb, reader, editor):
    assert reader.get("/help/gizli-kampanya/").status_code == 404
    assert reader.get("/help/en/gizli-kampanya/").status_code == 404
    found = reader.get("/help/search/", {"q": "gizli kampanya"}).content.decode()
    assert 'id="no-results"' in found and "gizli-kampanya/" not in found
    actions.article_unpublish(actor=editor, article=kb["returns"])
    assert reader.get("/help/iadeler-ve-degisim/").status_code == 404
    assert "İadeler ve değişim" not in reader.get("/help/").content.decode()


def test_article_content_is_escaped(kb, reader, editor):
    actions.article_save(
        actor=editor,
        article=kb["payment"],
        category_id=kb["payment"].category_id,
        slug="odeme-yontemleri",
        texts={
            "tr": {
                "title": "<img src=x onerror=alert(1)>Ödeme",
                "body": '<script>alert("x")</script>\n\n[tıkla](javascript:alert(1)) [site](https://shop.example/a?b=1&c=2)'
                "\n\n**<b>kalın</b>** `<i>kod</i>`",
            }
        },
    )
    html = reader.get("/help/odeme-yontemleri/").content.decode()
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;Ödeme" in html
    assert 'href="javascript' not in html
    assert '<a href="https://shop.example/a?b=1&amp;c=2" rel="nofollow noopener">site</a>' in html
    assert "<strong>&lt;b&gt;kalın&lt;/b&gt;</strong>" in html and "<code>&lt;i&gt;kod&lt;/i&gt;</code>" in html


def test_pages_are_cacheable_and_revalidate(kb, reader):
    response = reader.get("/help/kargo-takibi/")
    assert "public" in response["Cache-Control"] and "max-age=60" in response["Cache-Control"]
    assert "Set-Cookie" not in response and not response.cookies
    again = reader.get("/help/kargo-takibi/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_search_page(kb, reader):
    response = reader.get("/help/search/", {"q": "kargom nerede"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Kargo takibi: siparişim nerede?") < html.index("</section>")
    assert 'value="kargom nerede"' in html
    assert "no-store" in response["Cache-Control"]  # searches are counted: each one reaches the server
    html = reader.get("/help/en/search/", {"q": "LIGHT colours"}).content.decode()
    assert "The lamp&#x27;s light colour" in html
    html = reader.get("/help/search/", {"q": "<script>x</script> fatura"}).content.decode()
    assert 'id="no-results"' in html and "<script>x" not in html
    assert SearchMiss.objects.get(language="tr").query == "<script>x</script> fatura"
    assert reader.get("/help/search/").status_code == 200  # the empty form


def vote(client, slug, answer, *, language="", **extra):
    page = client.get(f"/help/{language}{slug}/")
    return client.post(
        f"/help/{language}{slug}/feedback/", {"helpful": answer, "token": token_of(page.content.decode())}, **extra
    )


def test_feedback_once_per_reader_per_day(kb, reader, clock):
    response = vote(reader, "kargo-takibi", "yes")
    assert response.status_code == 302 and response["Location"] == "/help/kargo-takibi/?feedback=yes#feedback"
    assert 'id="feedback-thanks"' in reader.get(response["Location"]).content.decode()
    assert vote(reader, "kargo-takibi", "no").status_code == 302  # changed their mind: the answer is replaced
    rows = list(ArticleFeedback.objects.values_list("article__slug", "helpful", "language"))
    assert rows == [("kargo-takibi", False, "tr")]
    other = Client(HTTP_USER_AGENT="Other browser", REMOTE_ADDR="198.51.100.2")
    vote(other, "kargo-takibi", "yes", language="en/")
    assert ArticleFeedback.objects.count() == 2
    assert ArticleFeedback.objects.filter(language="en", helpful=True).count() == 1
    clock.advance(dt.timedelta(days=1))
    vote(reader, "kargo-takibi", "yes")
    assert ArticleFeedback.objects.filter(article=kb["tracking"]).count() == 3
    assert len(set(ArticleFeedback.objects.values_list("visitor", flat=True))) == 3
    assert all(
        len(v) == 64 and "203.0.113.7" not in v for v in ArticleFeedback.objects.values_list("visitor", flat=True)
    )


def test_feedback_needs_its_signed_token_and_this_sites_origin(kb, reader):
    url = "/help/kargo-takibi/feedback/"
    page_token = token_of(reader.get("/help/kargo-takibi/").content.decode())
    other_token = token_of(reader.get("/help/teslimat-sureleri/").content.decode())
    assert reader.post(url, {"helpful": "yes"}).status_code == 400
    assert reader.post(url, {"helpful": "yes", "token": "forged"}).status_code == 400
    assert reader.post(url, {"helpful": "yes", "token": other_token}).status_code == 400  # another article's
    assert reader.post("/help/en/kargo-takibi/feedback/", {"helpful": "yes", "token": page_token}).status_code == 400
    assert reader.post(url, {"helpful": "maybe", "token": page_token}).status_code == 400
    cross = reader.post(url, {"helpful": "yes", "token": page_token}, HTTP_ORIGIN="https://evil.example")
    assert cross.status_code == 403
    assert reader.get(url).status_code == 405
    assert reader.post("/help/gizli-kampanya/feedback/", {"helpful": "yes", "token": page_token}).status_code == 404
    assert ArticleFeedback.objects.count() == 0
    same = reader.post(url, {"helpful": "yes", "token": page_token}, HTTP_ORIGIN="http://testserver")
    assert same.status_code == 302 and ArticleFeedback.objects.count() == 1


def test_search_and_feedback_are_rate_limited_with_429(kb, reader, settings, clock):
    settings.KERVAN_HELP_LIMITS = {"search": (3, 60), "feedback": (2, 3600)}
    for _ in range(3):
        assert reader.get("/help/search/", {"q": "kargo"}).status_code == 200
    limited = reader.get("/help/search/", {"q": "kargo"})
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert 'id="problem"' in limited.content.decode()
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert other.get("/help/search/", {"q": "kargo"}).status_code == 200  # counted per address
    clock.advance(dt.timedelta(seconds=61))
    assert reader.get("/help/search/", {"q": "kargo"}).status_code == 200

    assert vote(reader, "kargo-takibi", "yes").status_code == 302
    assert vote(reader, "teslimat-sureleri", "yes").status_code == 302
    refused = vote(reader, "iadeler-ve-degisim", "yes")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert ArticleFeedback.objects.count() == 2


def test_public_pages_speak_the_language_of_their_address(kb, reader):
    tr = reader.get("/help/kargo-takibi/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Bu makale işinize yaradı mı?" in tr and "Yardım merkezi" in tr and "Was this" not in tr
    en = reader.get("/help/en/kargo-takibi/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Was this article helpful?" in en and "Help centre" in en and "işinize" not in en
    assert "Hiçbir şey bulunamadı" in reader.get("/help/search/", {"q": "zzzz"}).content.decode()
    assert "Nothing found" in reader.get("/help/en/search/", {"q": "zzzz"}).content.decode()


def test_pages_take_the_same_few_queries_however_many_articles(kb, reader, editor, django_assert_max_num_queries):
    for i in range(30):
        made = actions.article_save(
            actor=editor,
            category_id=kb["categories"]["shipping"].pk,
            slug=f"kargo-{i}",
            texts={"tr": {"title": f"Kargo sorusu {i}", "body": "Kargo."}, "en": {"title": f"Shipping {i}"}},
        )
        actions.article_publish(actor=editor, article=made)
    for path in ("/help/", "/help/en/", "/help/category/kargo/", "/help/kargo-takibi/", "/help/search/?q=kargo"):
        with django_assert_max_num_queries(4):
            assert reader.get(path).status_code == 200
