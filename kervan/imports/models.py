"""Import jobs: one uploaded file of customers, products or orders, processed in the background."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    PRODUCTS = "products", _("Products")
    ORDERS = "orders", _("Orders")
    # Several related files (or one zip) of customers, orders, order items, payments and reviews, imported together
    # in one transaction (kervan.imports.related).
    RELATED = "related", _("Related files (customers, orders, items, payments, reviews)")


class ImportMode(models.TextChoices):
    SKIP = "skip", _("Skip bad rows and report them")
    REFUSE = "refuse", _("Refuse the whole file if any row is bad")


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    CHECKING = "checking", _("Checking rows")
    SAVING = "saving", _("Saving")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused: nothing was imported")
    FAILED = "failed", _("Failed: nothing was imported")


FINISHED = (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED)


def _upload_to(job, filename: str) -> str:
    return f"imports/{job.token}/{filename}"


class ImportJob(models.Model):
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    mode = models.CharField(max_length=6, choices=ImportMode.choices, default=ImportMode.SKIP)
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.DRAFT)
    token = models.CharField(max_length=32, unique=True)  # the upload's folder name, not guessable
    file = models.FileField(upload_to=_upload_to, max_length=255, blank=True)
    file_name = models.CharField(max_length=255)  # as the user named it
    file_format = models.CharField(max_length=4)  # csv | xlsx | zip (related files)
    # The store the file comes from: its customer ids (Identity "store customer id") and order numbers are scoped to
    # it, and its saved mapping (ImportProfile) is offered for its next file. Null: the generic file-import source.
    source = models.ForeignKey("core.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    preset = models.CharField(max_length=40, blank=True)  # kervan/imports/presets/<preset>.json, if one recognised it
    # Per-file settings (kervan.imports.file_settings.FileSettings): currency, time zone, date order, decimal
    # separator, status mapping …
    options = models.JSONField(default=dict, blank=True)
    # What the upload learnt from the whole file: {"values": {column: [distinct values]}} for the columns with few
    # different values (the status mapping lists them), the date order and decimal separator its cells show.
    facts = models.JSONField(default=dict, blank=True)
    # Counts by kind for a finished job (customers created/matched, orders, lines, returns …, errors by code).
    summary = models.JSONField(default=dict, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    columns = models.JSONField(default=list)  # the file's header, made unique
    mapping = models.JSONField(default=dict)  # {column header: field}
    total_rows = models.PositiveIntegerField(default=0)  # estimated until the file is read to the end
    processed_rows = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors_stored = models.PositiveIntegerField(default=0)  # ≤ error_count: the report keeps at most this many
    failure = models.TextField(blank=True)  # why a job failed as a whole
    worker = models.CharField(max_length=300, blank=True)  # "host:pid" of the process running it (imports.liveness)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import #{self.pk} ({self.file_name})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def progress_percent(self) -> int:
        if self.status in FINISHED or self.status == ImportStatus.SAVING:
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def errors_omitted(self) -> int:
        """Problems counted but not kept in the report (it keeps at most base.MAX_STORED_ERRORS)."""
        return max(self.error_count - self.errors_stored, 0)

    def counts(self) -> dict:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": self.error_count,
        }


class ImportProfile(models.Model):
    """A source's column mapping and file settings as last used for a kind of import, offered for its next file."""

    source = models.ForeignKey("core.Source", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    columns = models.JSONField(default=list)  # the header the mapping was made for
    mapping = models.JSONField(default=dict)
    options = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "kind"], name="import_profile_unique")]
        verbose_name = _("saved import settings")
        verbose_name_plural = _("saved import settings")


class ImportRowError(models.Model):
    """One problem with one cell (or one row) of an import file: the validation report."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField()  # as in the file: the header is row 1
    column = models.CharField(max_length=255, blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()
    code = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("import problem")
        verbose_name_plural = _("import problems")
