"""The editors' pages: list with filters and feedback, the two-language editor (draft, publish, unpublish), categories
and the searches with no result; who may see and change what; every change audited."""

import pytest
from django.test import Client

from kervan.core.models import AuditLog
from kervan.support import search
from kervan.support.models import Article, ArticleCategory, ArticleFeedback, ArticleTranslation

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_client(make_user):
    client = Client()
    client.force_login(make_user("support", "destek"))
    return client


def test_list_filters_and_shows_feedback(kb, admin_client):
    for visitor, helpful in (("a", True), ("b", True), ("c", True), ("d", False)):
        ArticleFeedback.objects.create(
            article=kb["tracking"], helpful=helpful, language="tr", visitor=visitor, day="2026-12-01"
        )
    html = admin_client.get("/support/kb/").content.decode()
    assert html.count("data-article=") == 6
    row = html.split('data-article="kargo-takibi"')[1].split("</tr>")[0]
    assert "Kargo takibi: siparişim nerede?" in row and ">3<" in row and ">1<" in row
    assert 'data-helpful-percent="75"' in row
    assert "Published" in row and "TR · EN" in row
    drafts = admin_client.get("/support/kb/", {"status": "draft"}).content.decode()
    assert drafts.count("data-article=") == 1 and 'data-article="gizli-kampanya"' in drafts
    shipping = kb["categories"]["shipping"].pk
    assert admin_client.get("/support/kb/", {"category": shipping}).content.decode().count("data-article=") == 2
    no_english = admin_client.get("/support/kb/", {"language": "missing-en"}).content.decode()
    assert no_english.count("data-article=") == 2 and 'data-article="teslimat-sureleri"' in no_english
    assert admin_client.get("/support/kb/", {"language": "en"}).content.decode().count("data-article=") == 4
    assert admin_client.get("/support/kb/", {"q": "lamba"}).content.decode().count("data-article=") == 1
    assert admin_client.get("/support/kb/", {"category": "x\x00", "status": "bogus"}).status_code == 200
    assert admin_client.get("/support/kb/", {"category": "9" * 30}).status_code == 200


def test_write_an_article_in_both_languages_publish_and_unpublish(kb, support_client):
    category = kb["categories"]["returns"].pk
    form = {
        "slug": "hasarli-urun",
        "category": category,
        "position": "5",
        "title_tr": "Hasarlı ürün geldi",
        "body_tr": "Fotoğrafını çekip bize yazın.",
        "title_en": "My product arrived damaged",
        "body_en": "Take a photo and write to us.",
        "then": "",
    }
    response = support_client.post("/support/kb/new/", form)
    article = Article.objects.get(slug="hasarli-urun")
    assert response.status_code == 302 and response["Location"] == f"/support/kb/{article.pk}/"
    assert article.status == "draft" and article.position == 5 and article.author.username == "destek"
    assert dict(article.translations.values_list("language", "title")) == {
        "tr": "Hasarlı ürün geldi",
        "en": "My product arrived damaged",
    }
    assert Client().get("/help/hasarli-urun/").status_code == 404
    _query, found = search.search("hasarlı", "tr")
    assert found == []

    page = support_client.get(f"/support/kb/{article.pk}/").content.decode()
    assert 'value="Hasarlı ürün geldi"' in page and "Take a photo and write to us.</textarea>" in page
    support_client.post(f"/support/kb/{article.pk}/", {**form, "then": "publish"})
    article.refresh_from_db()
    assert article.status == "published" and article.published_at is not None
    assert "Fotoğrafını çekip bize yazın." in Client().get("/help/hasarli-urun/").content.decode()
    assert [t.article.slug for t in search.search("hasarlı ürün", "tr")[1]] == ["hasarli-urun"]

    support_client.post(f"/support/kb/{article.pk}/", {**form, "title_en": "", "body_en": "", "then": "unpublish"})
    article.refresh_from_db()
    assert article.status == "draft"
    assert list(article.translations.values_list("language", flat=True)) == ["tr"]
    assert Client().get("/help/hasarli-urun/").status_code == 404

    logged = list(
        AuditLog.objects.filter(object_type="support.article", object_id=str(article.pk))
        .order_by("id")
        .values_list("action", "changes")
    )
    assert [action for action, _changes in logged] == ["create", "update", "update", "update"]
    assert logged[0][1]["slug"] == [None, "hasarli-urun"]
    assert logged[1][1] == {"status": ["draft", "published"]}  # saving the unchanged texts logged nothing
    assert logged[2][1] == {"title_en": ["My product arrived damaged", None]}
    assert logged[3][1] == {"status": ["published", "draft"]}


@pytest.mark.parametrize(
    ("change", "field", "code_text"),
    [
        ({"slug": "Büyük Harf"}, "slug", "lowercase letters"),
        ({"slug": "en"}, "slug", "reserved"),
        ({"slug": "kargo-takibi"}, "slug", "Another article already has this address."),
        ({"category": ""}, "category", "Choose a category."),
        ({"category": "9" * 30}, "category", "Choose a category."),
        ({"title_tr": "", "body_tr": ""}, "title_tr", "at least its Turkish title"),
        ({"title_tr": "", "body_tr": "Metin"}, "title_tr", "A text needs its title."),
        ({"title_en": "", "body_en": "Only a body"}, "title_en", "A text needs its title."),
        ({"title_tr": "x" * 201}, "title_tr", "At most 200 characters"),
        ({"position": "-4"}, "position", "whole number"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(kb, support_client, change, field, code_text):
    before = (Article.objects.count(), ArticleTranslation.objects.count(), AuditLog.objects.count())
    form = {"slug": "yeni", "category": kb["categories"]["returns"].pk, "title_tr": "Yeni", "body_tr": "Metin"}
    response = support_client.post("/support/kb/new/", {**form, **change})
    html = response.content.decode()
    assert response.status_code == 400
    assert f'data-error-field="{field}"' in html and code_text in html.replace("&#x27;", "'")
    assert (Article.objects.count(), ArticleTranslation.objects.count(), AuditLog.objects.count()) == before


def test_categories_page(kb, support_client):
    response = support_client.post(
        "/support/kb/categories/", {"name_tr": "Hesabım", "name_en": "My account", "slug": "hesap", "position": "1"}
    )
    assert response.status_code == 302
    made = ArticleCategory.objects.get(slug="hesap")
    assert (made.name_tr, made.name_en, made.position) == ("Hesabım", "My account", 1)
    html = support_client.get("/support/kb/categories/").content.decode()
    assert 'data-category="hesap"' in html and 'data-category="kargo"' in html
    support_client.post(
        "/support/kb/categories/",
        {"category_id": made.pk, "name_tr": "Hesap", "name_en": "Account", "slug": "hesap", "position": "2"},
    )
    made.refresh_from_db()
    assert made.name_tr == "Hesap"
    taken = support_client.post("/support/kb/categories/", {"name_tr": "X", "slug": "kargo"})
    assert taken.status_code == 400 and "Another category already has this address." in taken.content.decode()
    assert AuditLog.objects.filter(object_type="support.articlecategory", object_id=str(made.pk)).count() == 2


def test_searches_with_no_result_are_listed(kb, support_client):
    reader = Client(REMOTE_ADDR="203.0.113.5")
    for text in ("Fatura iptali", "fatura İPTALİ", "kargo"):
        reader.get("/help/search/", {"q": text})
    reader.get("/help/en/search/", {"q": "invoice"})
    html = support_client.get("/support/kb/searches/").content.decode()
    rows = html.split('id="search-misses"')[1]
    assert rows.index('data-query="fatura iptali"') < rows.index('data-query="invoice"')
    assert ">2<" in rows.split('data-query="fatura iptali"')[1].split("</tr>")[0]
    assert 'data-query="kargo"' not in rows


def test_who_may_see_and_change(kb, make_user):
    def client_for(role):
        client = Client()
        client.force_login(make_user(role, f"{role}-kb"))
        return client

    marketing, sales = client_for("marketing"), client_for("sales")
    assert marketing.get("/support/kb/").status_code == 200
    assert 'id="new-article"' not in marketing.get("/support/kb/").content.decode()
    article = kb["tracking"]
    refused = marketing.post(f"/support/kb/{article.pk}/", {"slug": "x", "title_tr": "x", "then": "unpublish"})
    assert refused.status_code == 403
    assert marketing.post("/support/kb/categories/", {"name_tr": "X", "slug": "x"}).status_code == 403
    article.refresh_from_db()
    assert article.status == "published" and article.slug == "kargo-takibi"
    assert sales.get("/support/kb/").status_code == 403
    assert Client().get("/support/kb/").status_code == 302  # to the login page
    assert marketing.get(f"/support/kb/{'9' * 30}/").status_code == 404


def test_menu_entry(kb, support_client, make_user):
    html = support_client.get("/support/kb/").content.decode()
    assert 'data-nav="support" class="active"' in html
    sales = Client()
    sales.force_login(make_user("sales", "satis"))
    assert 'data-nav="support"' not in sales.get("/customers/").content.decode()


def test_staff_pages_in_turkish(kb, make_user):
    client = Client()
    client.force_login(make_user("support", "tr-destek", language="tr"))
    client.cookies["django_language"] = "tr"
    html = client.get("/support/kb/").content.decode()
    assert "Yardım merkezi" in html and "Yararlı bulunma oranı" in html and "Yayında" in html
    assert "Sonuç bulunamayan aramalar" in client.get("/support/kb/searches/").content.decode()
    assert "Kaydet ve yayımla" in client.get("/support/kb/new/").content.decode()
