"""/api/v1/support: search and read published articles; bad input refused with {"detail", "code"}."""

import pytest
from django.test import Client

from kervan.support.models import SearchMiss

pytestmark = pytest.mark.django_db


def test_search(kb, api):
    response = api.get("/support/articles", {"q": "kargom nerede"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "kargom nerede"
    first = body["items"][0]
    assert first == {
        "slug": "kargo-takibi",
        "language": "tr",
        "title": "Kargo takibi: siparişim nerede?",
        "category": "Kargo ve teslimat",
        "category_slug": "kargo",
        "published_at": first["published_at"],
        "excerpt": "Takip numaranız sipariş onay e-postasında yazar.",
    }
    assert first["published_at"]
    english = api.get("/support/articles", {"q": "IŞIK", "lang": "tr"}).json()["items"]
    assert [a["slug"] for a in english] == ["lamba-isik-rengi"]
    assert api.get("/support/articles", {"q": "returns", "lang": "en"}).json()["items"][0]["category"] == "Returns"
    assert api.get("/support/articles", {"q": "gizli"}).json()["items"] == []  # a draft
    assert SearchMiss.objects.filter(query="gizli").count() == 1


def test_one_article(kb, api, editor):
    from kervan.support import actions

    actions.article_save(
        actor=editor,
        article=kb["payment"],
        category_id=kb["payment"].category_id,
        slug="odeme-yontemleri",
        texts={"tr": {"title": "Ödeme", "body": "**Kart** <script>x</script>"}},
    )
    body = api.get("/support/articles/odeme-yontemleri").json()
    assert body["body"] == "**Kart** <script>x</script>"
    assert body["body_html"] == "<p><strong>Kart</strong> &lt;script&gt;x&lt;/script&gt;</p>"
    assert api.get("/support/articles/kargo-takibi", {"lang": "en"}).json()["title"] == "Tracking: where is my order?"
    missing = api.get("/support/articles/gizli-kampanya")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "There is no such article.",
        "code": "article_not_found",
    }
    assert api.get("/support/articles/teslimat-sureleri", {"lang": "en"}).status_code == 404


@pytest.mark.parametrize(
    "params", [{"lang": "de"}, {"q": "x" * 201}, {"q": "kargo\x00"}, {"limit": 0}, {"limit": 10**30}]
)
def test_bad_input(kb, api, params):
    response = api.get("/support/articles", params)
    assert response.status_code == 422
    assert set(response.json()) >= {"detail", "code"}


def test_needs_a_key_with_support_access(kb, make_api_key):
    assert Client().get("/api/v1/support/articles?q=kargo").status_code == 401
    _key, secret = make_api_key(scopes={"customers": "read"})
    refused = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/support/articles?q=kargo")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
