"""/api/v1/support: tickets (kervan.support.ticket_api), and the knowledge base's published articles — search (the
help centre's own search, so a shop's site or a chat widget finds what the help centre finds) and one article by its
address."""

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from kervan.core.api import ERRORS, STORABLE
from kervan.core.errors import KervanError
from kervan.support import markup, search, selectors
from kervan.support.models import Article, ArticleTranslation
from kervan.support.ticket_api import router as tickets_router

router = Router(tags=["support"])
router.add_router("", tickets_router)  # /api/v1/support/tickets…


class SupportArticleOut(Schema):
    slug: str
    language: str
    title: str
    category: str
    category_slug: str
    published_at: dt.datetime | None
    excerpt: str


class SupportArticleDetailOut(SupportArticleOut):
    body: str  # Markdown, as the editor wrote it
    body_html: str  # rendered, escaped: safe to put on a page as it is


class SupportSearchOut(Schema):
    query: str
    items: list[SupportArticleOut]


class SupportSearchQuery(Schema):
    q: str = Field("", max_length=search.QUERY_MAX)
    lang: Literal["tr", "en"] = "tr"
    limit: int = Field(20, ge=1, le=50)


def _out(text: ArticleTranslation) -> dict:
    article: Article = text.article
    return {
        "slug": article.slug,
        "language": text.language,
        "title": text.title,
        "category": article.category.name(text.language),
        "category_slug": article.category.slug,
        "published_at": article.published_at,
        "excerpt": markup.plain(text.body)[:220],
    }


@router.get("/articles", response={200: SupportSearchOut, **ERRORS}, summary="Search published articles")
def search_articles(request, filters: Query[SupportSearchQuery]):
    """Published articles matching `q` in language `lang`, best first (Turkish-aware: "iade" finds "İadeler");
    a query that finds nothing is recorded for the editors' "searches with no result"."""
    request.auth.require("support", "read")
    _query, found = search.search(filters.q, filters.lang, limit=filters.limit, record_miss=True)
    return {"query": filters.q, "items": [_out(t) for t in found]}


@router.get("/articles/{slug}", response={200: SupportArticleDetailOut, **ERRORS}, summary="One published article")
def get_article(request, slug: str = Path(..., max_length=120, pattern=STORABLE), lang: Literal["tr", "en"] = "tr"):
    request.auth.require("support", "read")
    text = selectors.public_article(slug, lang)
    if text is None:
        raise KervanError(_("There is no such article."), "article_not_found", status=404)
    return {**_out(text), "body": text.body, "body_html": str(markup.render(text.body))}
