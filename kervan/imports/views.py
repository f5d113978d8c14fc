"""Import pages: upload → column mapping → progress and result (htmx polls a small partial every second)."""

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError, NotFound
from kervan.imports import actions, report_text, selectors, sources
from kervan.imports.models import ImportKind, ImportMode, ImportStatus

ERRORS_SHOWN = 200


@require_access("imports", "write")
@require_http_methods(["GET", "POST"])
def import_list(request):
    error = None
    status = 200
    if request.method == "POST":
        try:
            source = sources.source_for_upload(
                source_id=request.POST.get("source", ""), new_name=request.POST.get("new_source", "")
            )
            kind = request.POST.get("kind", "")
            # Related files come as several files (or one zip); every other kind as one file.
            upload = request.FILES.getlist("file") if kind == ImportKind.RELATED else request.FILES.getlist("file")[:2]
            job = actions.import_job_upload(actor=request.actor, kind=kind, upload=upload, source=source)
            return redirect("imports:mapping", job_id=job.pk)
        except KervanError as exc:
            error, status = exc.detail, exc.status
    # ?status=failed|running|<a status>&since=YYYY-MM-DD (the Today page links here): a bad value is said beside the
    # list, which then shows every import.
    shown = {key: request.GET.get(key, "").strip()[:20] for key in ("status", "since")}
    try:
        jobs = selectors.import_jobs(actor=request.actor, limit=20, **shown).items
    except KervanError as exc:
        shown, filter_error = {}, exc.detail
        jobs = selectors.import_jobs(actor=request.actor, limit=20).items
    else:
        filter_error = None
    return render(
        request,
        "imports/list.html",
        {
            "jobs": jobs,
            "kinds": ImportKind.choices,
            "error": error,
            "selected_kind": request.POST.get("kind", ""),
            "sources": sources.import_sources(),
            "selected_source": request.POST.get("source", ""),
            "filtered": any(shown.values()),
            "filter_error": filter_error,
        },
        status=status,
    )


@require_access("imports", "write")
@require_http_methods(["GET", "POST"])
def import_mapping(request, job_id: int):
    job = _job(request, job_id)
    if job.status != ImportStatus.DRAFT:
        return redirect("imports:detail", job_id=job.pk)
    error = None
    status = 200
    mapping = job.mapping
    mode = ImportMode.SKIP
    options = dict(job.options)
    orders_like = job.kind in (ImportKind.ORDERS, ImportKind.RELATED)
    if request.method == "POST":
        mapping = {column: request.POST.get(f"map_{i}", "") for i, column in enumerate(job.columns)}
        mode = request.POST.get("mode", ImportMode.SKIP)
        if orders_like:
            options = _posted_settings(request.POST, options)
        if job.kind == ImportKind.RELATED:
            options["related"] = _posted_related(request.POST, job)
        try:
            if job.kind == ImportKind.RELATED and "count_joins" in request.POST:
                # "Count the joins again": the files' roles and joins as chosen, counted, nothing started.
                job = actions.import_job_related_update(actor=request.actor, job=job, related=options["related"])
                options["related"] = job.options["related"]
            else:
                actions.import_job_start(
                    actor=request.actor, job=job, mapping=mapping, mode=mode, options=options if orders_like else None
                )
                return redirect("imports:detail", job_id=job.pk)
        except KervanError as exc:
            error, status = exc.detail, exc.status
    if job.kind == ImportKind.RELATED:
        samples = (job.facts or {}).get("samples", {})
        preview = [[cell for column in job.columns for cell in [(samples.get(column) or [""])[0]]]]
    else:
        preview = selectors.import_job_preview(job=job)
    columns = [
        {
            "index": i,
            "name": column,
            "field": mapping.get(column, ""),
            "samples": [row[i] for row in preview if i < len(row) and row[i]],
        }
        for i, column in enumerate(job.columns)
    ]
    return render(
        request,
        "imports/mapping.html",
        {
            "job": job,
            "columns": columns,
            "fields": selectors.import_field_choices(job.kind),
            "modes": ImportMode.choices,
            "mode": mode,
            "error": error,
            **(selectors.import_settings_context(job, mapping, options) if orders_like else {}),
            **(selectors.related_context(job, options) if job.kind == ImportKind.RELATED else {}),
        },
        status=status,
    )


SETTING_FIELDS = ("currency", "time_zone", "date_order", "decimal", "default_status", "cancel_prefix", "phone_region")


def _posted_settings(post, options: dict) -> dict:
    """The file settings and the status mapping as the mapping page posts them."""
    options = {**options, **{name: post.get(name, "").strip() for name in SETTING_FIELDS if name in post}}
    if "guest_ids" in post:
        options["guest_ids"] = [v.strip() for v in post.get("guest_ids", "").split(",") if v.strip()]
    statuses = dict(options.get("statuses") or {})
    for key in post:
        if key.startswith("status_value_"):
            value = post[key]
            chosen = post.get("status_" + key[len("status_value_") :], "")
            if chosen:
                statuses[value] = chosen
            else:
                statuses.pop(value, None)
    options["statuses"] = statuses
    return options


def _posted_related(post, job) -> dict:
    """The files' roles and the joins as the mapping page posts them (role_<n>, join_<role> = "child|parent")."""
    files = (job.facts or {}).get("files", [])
    roles = {info["name"]: post.get(f"role_{i}", "") for i, info in enumerate(files) if f"role_{i}" in post}
    joins = {}
    for role in ("orders", "items", "payments", "reviews"):
        child, parent = post.get(f"join_{role}_column", ""), post.get(f"join_{role}_parent", "")
        if child and parent:
            joins[role] = [child, parent]
    stored = job.options.get("related") or {}
    return {"roles": {**stored.get("roles", {}), **roles}, "joins": {**stored.get("joins", {}), **joins}}


def _job(request, job_id: int):
    try:
        return selectors.import_job_get(actor=request.actor, job_id=job_id)
    except NotFound:
        raise Http404


def _result_context(job) -> dict:
    """The job and its first problems, their stored reasons in the viewer's language (kervan.imports.report_text)."""
    errors = list(job.row_errors.all()[:ERRORS_SHOWN]) if job.is_finished else []
    for error in errors:
        error.reason = report_text.localized(error.reason)
    job.failure = report_text.localized(job.failure)
    orphans = []
    if job.kind == ImportKind.RELATED:  # (role label, rows whose parent is not in the files) per join
        from kervan.imports.related import ROLE_LABELS

        orphans = [(ROLE_LABELS.get(role, role), n) for role, n in (job.summary or {}).get("orphans", {}).items()]
    return {"job": job, "errors": errors, "errors_shown": len(errors), "orphans": orphans}


@require_access("imports", "read")
def import_detail(request, job_id: int):
    job = _job(request, job_id)
    if job.status == ImportStatus.DRAFT:
        return redirect("imports:mapping", job_id=job.pk)
    return render(request, "imports/detail.html", _result_context(job))


@require_access("imports", "read")
def import_progress(request, job_id: int):
    job = _job(request, job_id)
    return render(request, "imports/_progress.html", _result_context(job))


@require_access("imports", "read")
def import_report(request, job_id: int):
    job = _job(request, job_id)
    rows = selectors.import_report_csv(job=job, language=get_language())
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response
