"""Editors' pages of the knowledge base (/support/kb/): the article list with filters and readers' feedback, the
editor (Turkish and English side by side; save, publish, unpublish), categories, and the searches that found
nothing."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.support import actions, selectors
from kervan.support.models import Article, ArticleCategory, Language


def _helpful_percent(yes: int, no: int) -> int | None:
    return round(100 * yes / (yes + no)) if yes + no else None


@require_access("support", "read")
def kb_list(request):
    filters = {
        "status": request.GET.get("status", ""),
        "category": request.GET.get("category", ""),
        "language": request.GET.get("language", ""),
        "q": request.GET.get("q", "").replace("\x00", "")[:200],
    }
    articles = selectors.article_list(
        actor=request.actor,
        status=filters["status"],
        category_id=int(filters["category"])
        if filters["category"].isdigit() and len(filters["category"]) < 19
        else None,
        language=filters["language"],
        text=filters["q"].strip(),
    )[:500]
    rows = []
    for article in articles:
        texts = {t.language: t for t in article.translations.all()}
        rows.append((article, texts, _helpful_percent(article.helpful_yes, article.helpful_no)))
    return render(
        request,
        "support/kb/list.html",
        {
            "rows": rows,
            "filters": filters,
            "categories": ArticleCategory.objects.all(),
            "statuses": Article.Status.choices,
            "languages": [*Language.choices, ("missing-en", _("No English text"))],
        },
    )


def _editor(request, article: Article | None, *, status: int = 200, error: KervanError | None = None):
    texts = {t.language: t for t in article.translations.all()} if article else {}
    values = {
        "slug": article.slug if article else "",
        "category": article.category_id if article else "",
        "position": article.position if article else 100,
    }
    for language in Language.values:
        text = texts.get(language)
        values[f"title_{language}"] = text.title if text else ""
        values[f"body_{language}"] = text.body if text else ""
    if request.method == "POST":
        values.update({key: request.POST.get(key, "") for key in values})
        values["category"] = int(values["category"]) if str(values["category"]).isdigit() else ""
    return render(
        request,
        "support/kb/edit.html",
        {
            "article": article,
            "values": values,
            "error": error,
            "categories": ArticleCategory.objects.all(),
            "languages": [("tr", _("Turkish")), ("en", _("English"))],
        },
        status=status,
    )


def _save(request, article: Article | None):
    post = request.POST
    article = actions.article_save(
        actor=request.actor,
        article=article,
        category_id=post.get("category"),
        slug=post.get("slug"),
        position=post.get("position"),
        texts={lang: {"title": post.get(f"title_{lang}"), "body": post.get(f"body_{lang}")} for lang in ("tr", "en")},
    )
    then = post.get("then", "")
    if then == "publish":
        actions.article_publish(actor=request.actor, article=article)
        messages.success(request, _("The article is published."))
    elif then == "unpublish":
        actions.article_unpublish(actor=request.actor, article=article)
        messages.success(request, _("The article is a draft again: readers no longer see it."))
    else:
        messages.success(request, _("The article is saved."))
    return redirect("support:kb_edit", article.pk)


@require_access("support", "read")
def kb_new(request):
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return render(request, "403.html", {"domain": "support", "access": "write"}, status=403)
        try:
            return _save(request, None)
        except KervanError as error:
            return _editor(request, None, status=400, error=error)
    return _editor(request, None)


@require_access("support", "read")
def kb_edit(request, article_id: int):
    article = selectors.article_get(actor=request.actor, article_id=article_id)
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return render(request, "403.html", {"domain": "support", "access": "write"}, status=403)
        try:
            return _save(request, article)
        except KervanError as error:
            return _editor(request, article, status=400, error=error)
    return _editor(request, article)


@require_access("support", "read")
def kb_categories(request):
    categories = list(selectors.category_list(actor=request.actor))
    error, values = None, {"name_tr": "", "name_en": "", "slug": "", "position": 100}
    if request.method == "POST":
        if not request.actor.can("support", "write"):
            return render(request, "403.html", {"domain": "support", "access": "write"}, status=403)
        editing = next((c for c in categories if str(c.pk) == request.POST.get("category_id", "")), None)
        values = {key: request.POST.get(key, "") for key in values}
        try:
            actions.category_save(actor=request.actor, category=editing, **values)
        except KervanError as exc:
            error = exc
        else:
            messages.success(request, _("The category is saved."))
            return redirect("support:kb_categories")
    return render(
        request,
        "support/kb/categories.html",
        {"categories": categories, "error": error, "values": values},
        status=400 if error else 200,
    )


@require_access("support", "read")
def kb_searches(request):
    misses = selectors.search_misses(actor=request.actor)[:200]
    return render(request, "support/kb/searches.html", {"misses": misses})
