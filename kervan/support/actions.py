"""Every write of the knowledge base: categories, articles (both languages at once), publish and unpublish, and a
reader's feedback. Each editor's change is audited; the search index follows every article save."""

import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.api import nul_path
from kervan.core.audit import audit, diff
from kervan.core.errors import KervanError
from kervan.support import search
from kervan.support.models import Article, ArticleCategory, ArticleFeedback, ArticleTranslation, Language

TITLE_MAX = 200
BODY_MAX = 100_000
NAME_MAX = 120
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Words the help centre's own addresses use (/help/en/, /help/search/, /help/contact/, /help/category/…): no
# article may take them.
RESERVED_SLUGS = {"en", "tr", "search", "category", "feedback", "contact"}


def _text(value, field: str, limit: int, *, required: bool = False) -> str:
    value = str(value or "").strip()
    if nul_path(value) is not None:
        raise KervanError(_("The text holds a character that cannot be stored."), "invalid_text", field=field)
    if required and not value:
        raise KervanError(_("This field is required."), "required", field=field)
    if len(value) > limit:
        raise KervanError(
            _("At most %(limit)s characters are allowed here.") % {"limit": limit}, "too_long", field=field
        )
    return value


def _slug(value, field: str = "slug", max_length: int = 120) -> str:
    slug = str(value or "").strip().lower()
    if not slug or len(slug) > max_length or not _SLUG.match(slug):
        raise KervanError(
            _("An address needs lowercase letters a–z, digits and hyphens (for example: return-policy)."),
            "invalid_slug",
            field=field,
        )
    return slug


def _position(value) -> int:
    try:
        position = int(value if value not in (None, "") else 100)
    except (TypeError, ValueError):
        position = -1
    if not 0 <= position <= 100_000:
        raise KervanError(_("The position is a whole number from 0 to 100000."), "invalid_position", field="position")
    return position


# ---------------------------------------------------------------- categories


def category_save(
    *, actor: Actor, category: ArticleCategory | None = None, name_tr, name_en="", slug, position=100
) -> ArticleCategory:
    actor.require("support", "write")
    values = {
        "name_tr": _text(name_tr, "name_tr", NAME_MAX, required=True),
        "name_en": _text(name_en, "name_en", NAME_MAX),
        "slug": _slug(slug, max_length=80),
        "position": _position(position),
    }
    if ArticleCategory.objects.filter(slug=values["slug"]).exclude(pk=getattr(category, "pk", None)).exists():
        raise KervanError(_("Another category already has this address."), "slug_taken", field="slug")
    with transaction.atomic():
        if category is None:
            category = ArticleCategory.objects.create(**values)
            audit(actor=actor, action="create", obj=category, changes={k: [None, v] for k, v in values.items()})
            return category
        changes = diff(category, values)
        for key, value in values.items():
            setattr(category, key, value)
        category.save()
        if changes:
            audit(actor=actor, action="update", obj=category, changes=changes)
    return category


# ---------------------------------------------------------------- articles


def _texts(texts: dict) -> dict[str, dict[str, str]]:
    """{"tr": {"title", "body"}, "en": {...}} checked; a language with neither title nor body is left out. Turkish
    is the help centre's first language: an article always has its Turkish title."""
    cleaned: dict[str, dict[str, str]] = {}
    for language in Language.values:
        given = (texts or {}).get(language) or {}
        title = _text(given.get("title"), f"title_{language}", TITLE_MAX)
        body = _text(given.get("body"), f"body_{language}", BODY_MAX)
        if body and not title:
            raise KervanError(_("A text needs its title."), "required", field=f"title_{language}")
        if title:
            cleaned[language] = {"title": title, "body": body}
    if "tr" not in cleaned:
        raise KervanError(_("An article needs at least its Turkish title."), "required", field="title_tr")
    return cleaned


def article_save(
    *, actor: Actor, article: Article | None = None, category_id, slug, texts: dict, position=100
) -> Article:
    """Create or change an article and its texts (a language left empty is removed). Its status stays as it is."""
    actor.require("support", "write")
    slug = _slug(slug)
    if slug in RESERVED_SLUGS:
        raise KervanError(_("This address is reserved; choose another."), "slug_reserved", field="slug")
    given = str(category_id or "")
    category_pk = int(given) if given.isdigit() and len(given) < 19 else None  # beyond bigint: no such category
    category = ArticleCategory.objects.filter(pk=category_pk).first() if category_pk else None
    if category is None:
        raise KervanError(_("Choose a category."), "invalid_category", field="category")
    cleaned = _texts(texts)
    position = _position(position)
    if Article.objects.filter(slug=slug).exclude(pk=getattr(article, "pk", None)).exists():
        raise KervanError(_("Another article already has this address."), "slug_taken", field="slug")
    try:
        with transaction.atomic():
            created = article is None
            if created:
                article = Article.objects.create(category=category, slug=slug, position=position, author=actor.user)
                changes = {"slug": [None, slug], "category": [None, category.pk]}
            else:
                changes = diff(article, {"slug": slug, "category_id": category.pk, "position": position})
                article.slug, article.category, article.position = slug, category, position
                article.save()
            existing = {t.language: t for t in article.translations.all()}
            for language, old in existing.items():
                if language not in cleaned:
                    old.delete()
                    changes[f"title_{language}"] = [old.title, None]
            touched = []
            for language, text in cleaned.items():
                old = existing.get(language)
                if old is None:
                    old = ArticleTranslation.objects.create(article=article, language=language, **text)
                    changes[f"title_{language}"] = [None, text["title"]]
                elif (old.title, old.body) != (text["title"], text["body"]):
                    if old.title != text["title"]:
                        changes[f"title_{language}"] = [old.title, text["title"]]
                    if old.body != text["body"]:
                        changes[f"body_{language}"] = ["…", "…"]  # bodies are long: the log says that it changed
                    old.title, old.body = text["title"], text["body"]
                    old.save()
                else:
                    continue
                touched.append(old.pk)
            search.index(touched + [t.pk for lang, t in existing.items() if lang not in cleaned])
            if created or changes:
                audit(actor=actor, action="create" if created else "update", obj=article, changes=changes)
    except IntegrityError:  # the same address saved by someone else meanwhile
        raise KervanError(_("Another article already has this address."), "slug_taken", field="slug")
    return article


def article_publish(*, actor: Actor, article: Article) -> Article:
    actor.require("support", "write")
    if article.status == Article.Status.PUBLISHED:
        return article
    with transaction.atomic():
        article.status = Article.Status.PUBLISHED
        article.published_at = article.published_at or clock.now()
        article.save(update_fields=["status", "published_at", "updated_at"])
        audit(actor=actor, action="update", obj=article, changes={"status": ["draft", "published"]})
    return article


def article_unpublish(*, actor: Actor, article: Article) -> Article:
    actor.require("support", "write")
    if article.status == Article.Status.DRAFT:
        return article
    with transaction.atomic():
        article.status = Article.Status.DRAFT
        article.save(update_fields=["status", "updated_at"])
        audit(actor=actor, action="update", obj=article, changes={"status": ["published", "draft"]})
    return article


# ---------------------------------------------------------------- readers


def feedback_record(*, article: Article, helpful: bool, language: str, visitor: str) -> bool:
    """A reader's answer to "was this helpful?" (the public help centre, no staff actor). One answer per visitor,
    article and day: a second one that day replaces the first. Returns whether it was the day's first."""
    if article.status != Article.Status.PUBLISHED:
        raise KervanError(_("There is no such article."), "article_not_found", status=404)
    day = timezone.localdate(clock.now())  # the shop's day (Europe/Istanbul), not UTC's
    with transaction.atomic():
        updated = ArticleFeedback.objects.filter(article=article, visitor=visitor, day=day).update(helpful=helpful)
        if updated:
            return False
        try:
            with transaction.atomic():
                ArticleFeedback.objects.create(
                    article=article, helpful=helpful, language=language, visitor=visitor, day=day
                )
        except IntegrityError:  # the same visitor's other request won the race
            return False
    return True
