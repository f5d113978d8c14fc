"""Background work for imports: thin and idempotent, taking the job's id (see import_job_run)."""

from django_tasks import task


@task()
def import_job_process(job_id: int) -> None:
    from kervan.imports.actions import import_job_run

    import_job_run(job_id=job_id)
