"""Import pages: upload → column mapping → progress and result (htmx polls a small partial every second)."""

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError, NotFound
from kervan.imports import actions, selectors
from kervan.imports.models import ImportKind, ImportMode, ImportStatus

ERRORS_SHOWN = 200


@require_access("imports", "write")
@require_http_methods(["GET", "POST"])
def import_list(request):
    error = None
    status = 200
    if request.method == "POST":
        try:
            job = actions.import_job_upload(
                actor=request.actor, kind=request.POST.get("kind", ""), upload=request.FILES.get("file")
            )
            return redirect("imports:mapping", job_id=job.pk)
        except KervanError as exc:
            error, status = exc.detail, exc.status
    jobs = selectors.import_jobs(actor=request.actor, limit=20).items
    return render(
        request,
        "imports/list.html",
        {"jobs": jobs, "kinds": ImportKind.choices, "error": error, "selected_kind": request.POST.get("kind", "")},
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
    if request.method == "POST":
        mapping = {column: request.POST.get(f"map_{i}", "") for i, column in enumerate(job.columns)}
        mode = request.POST.get("mode", ImportMode.SKIP)
        try:
            actions.import_job_start(actor=request.actor, job=job, mapping=mapping, mode=mode)
            return redirect("imports:detail", job_id=job.pk)
        except KervanError as exc:
            error, status = exc.detail, exc.status
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
        },
        status=status,
    )


def _job(request, job_id: int):
    try:
        return selectors.import_job_get(actor=request.actor, job_id=job_id)
    except NotFound:
        raise Http404


def _result_context(job) -> dict:
    errors = list(job.row_errors.all()[:ERRORS_SHOWN]) if job.is_finished else []
    return {"job": job, "errors": errors, "errors_shown": len(errors)}


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
    response = StreamingHttpResponse(selectors.import_report_csv(job=job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response
