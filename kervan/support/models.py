"""The knowledge base: categories, articles with a Turkish and an English text, readers' feedback, and the searches
that found nothing (for editors to write the missing article).

The search index is not a model field: a `tsvector` column on PostgreSQL and an FTS5 table on SQLite, created by
this app's migration for each database and kept in step by kervan.support.search.index (called by the actions)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    TURKISH = "tr", _("Turkish")
    ENGLISH = "en", _("English")


class ArticleCategory(models.Model):
    name_tr = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120, blank=True)
    slug = models.SlugField(max_length=80, unique=True)
    position = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["position", "name_tr", "id"]
        verbose_name = _("help category")  # how the audit log names it
        verbose_name_plural = _("help categories")

    def __str__(self) -> str:
        return self.name_tr

    def name(self, language: str) -> str:
        """The name in `language`, the Turkish one when the English is missing."""
        return (self.name_en if language == Language.ENGLISH else "") or self.name_tr


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    category = models.ForeignKey(ArticleCategory, on_delete=models.PROTECT, related_name="articles")
    slug = models.SlugField(max_length=120, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=100)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "-published_at", "id"]
        verbose_name = _("help article")
        verbose_name_plural = _("help articles")
        indexes = [models.Index(fields=["status", "category"], name="support_article_status_cat")]

    def __str__(self) -> str:
        return self.slug


class ArticleTranslation(models.Model):
    """An article's text in one language; the body is Markdown (a small safe subset, kervan.support.markup), always
    rendered escaped."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=2, choices=Language.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="support_translation_one_per_language")
        ]

    def __str__(self) -> str:
        return self.title


class ArticleFeedback(models.Model):
    """One reader's "was this helpful?" answer. `visitor` is a keyed hash of the reader's address and browser and the
    day, so one reader counts once per article per day and no address is stored."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    helpful = models.BooleanField()
    language = models.CharField(max_length=2, choices=Language.choices)
    visitor = models.CharField(max_length=64)
    day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "visitor", "day"], name="support_feedback_once_a_day")
        ]


class SearchMiss(models.Model):
    """A help-centre search that found nothing, counted per folded query and language."""

    query = models.CharField(max_length=200)  # folded (kervan.core.text.search_fold)
    language = models.CharField(max_length=2, choices=Language.choices)
    count = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["query", "language"], name="support_searchmiss_unique")]
        indexes = [models.Index(fields=["-count", "-last_seen"], name="support_searchmiss_top")]
