"""Reads of the knowledge base: the editors' lists (with readers' feedback counts) and what the public help centre
shows — published articles only, each page in a fixed, small number of queries."""

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.api import MAX_ID
from kervan.core.errors import KervanError
from kervan.support.models import Article, ArticleCategory, ArticleTranslation, SearchMiss

PUBLISHED = Article.Status.PUBLISHED


def article_list(
    *, actor: Actor, status: str = "", category_id: int | None = None, language: str = "", text: str = ""
) -> QuerySet[Article]:
    """Articles for the editors, newest change first, with their texts and feedback counts. `language`: only those
    that have a text in it ("missing-en": those without an English text)."""
    rows = actor.scope("support", Article.objects.all())
    if status in Article.Status.values:
        rows = rows.filter(status=status)
    if category_id:
        rows = rows.filter(category_id=category_id)
    if language in ("tr", "en"):
        rows = rows.filter(translations__language=language)
    elif language == "missing-en":
        rows = rows.exclude(translations__language="en")
    if text:
        rows = rows.filter(Q(slug__icontains=text) | Q(translations__title__icontains=text)).distinct()
    return (
        rows.select_related("category")
        .prefetch_related(Prefetch("translations", queryset=ArticleTranslation.objects.only(
            "pk", "article_id", "language", "title")))
        .annotate(
            helpful_yes=Count("feedback", filter=Q(feedback__helpful=True), distinct=True),
            helpful_no=Count("feedback", filter=Q(feedback__helpful=False), distinct=True),
        )
        .order_by("-updated_at", "-id")
    )  # fmt: skip


def article_get(*, actor: Actor, article_id: int) -> Article:
    rows = actor.scope("support", Article.objects.select_related("category"))
    article = rows.filter(pk=article_id).first() if 0 < article_id <= MAX_ID else None
    if article is None:
        raise KervanError(_("There is no such article."), "article_not_found", status=404)
    return article


def category_list(*, actor: Actor) -> QuerySet[ArticleCategory]:
    return actor.scope("support", ArticleCategory.objects.annotate(article_count=Count("articles")))


def search_misses(*, actor: Actor) -> QuerySet[SearchMiss]:
    return actor.scope("support", SearchMiss.objects.order_by("-count", "-last_seen"))


# ---------------------------------------------------------------- the public help centre


def public_categories(language: str) -> list[tuple[ArticleCategory, list[ArticleTranslation]]]:
    """Categories with their published articles' texts in `language` (empty categories left out): two queries."""
    texts = (
        ArticleTranslation.objects.filter(language=language, article__status=PUBLISHED)
        .select_related("article")
        .only("pk", "title", "language", "article__slug", "article__category_id", "article__position",
              "article__published_at")
        .order_by("article__position", "-article__published_at", "article__id")
    )  # fmt: skip
    by_category: dict[int, list[ArticleTranslation]] = {}
    for text in texts:
        by_category.setdefault(text.article.category_id, []).append(text)
    return [(c, by_category[c.pk]) for c in ArticleCategory.objects.all() if c.pk in by_category]


def public_article(slug: str, language: str) -> ArticleTranslation | None:
    return (
        ArticleTranslation.objects.filter(language=language, article__slug=slug, article__status=PUBLISHED)
        .select_related("article__category")
        .first()
    )


def public_category(slug: str, language: str) -> tuple[ArticleCategory | None, list[ArticleTranslation]]:
    category = ArticleCategory.objects.filter(slug=slug).first()
    if category is None:
        return None, []
    texts = (
        ArticleTranslation.objects.filter(language=language, article__category=category, article__status=PUBLISHED)
        .select_related("article")
        .order_by("article__position", "-article__published_at", "article__id")
    )
    return category, list(texts)


def feedback_counts(article_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{article id: (helpful, not helpful)}."""
    rows = (
        Article.objects.filter(pk__in=article_ids)
        .annotate(
            yes=Count("feedback", filter=Q(feedback__helpful=True)),
            no=Count("feedback", filter=Q(feedback__helpful=False)),
        )
        .values_list("pk", "yes", "no")
    )
    return {pk: (yes, no) for pk, yes, no in rows}
