"""Flows (journeys): a trigger lets a customer in, then a graph of steps runs for them, one FlowRun per entry.

A Flow is edited as a draft (`graph`, `trigger`, `settings`); publishing checks it (kervan.flows.graph) and freezes a
FlowVersion. A run follows the version it entered with, so editing a live flow never moves people already in it.
A run is due work (kervan.core.claim): `due_at` is when its current step runs; the engine (kervan.flows.engine)
claims due runs in batches. Every step a run executes is a FlowStepLog row, unique per (run, seq): the log is what
makes a step run at most once, and what the per-step counts and the attribution read.
"""

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kervan.core.models import DueWork, TimeStampedModel


class Flow(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        LIVE = "live", _("Live")
        PAUSED = "paused", _("Paused")

    name = models.CharField(_("name"), max_length=150)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    # The draft being edited: what publishing freezes into the next FlowVersion.
    trigger = models.JSONField(default=dict, blank=True)
    graph = models.JSONField(default=dict, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    live_version = models.ForeignKey("FlowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    library_key = models.CharField(max_length=40, blank=True)  # the ready-made flow it started from
    # Lower runs first: when two flows want to message one customer on one day, the lower number wins.
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["priority", "name", "id"]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    """A published, frozen copy of a flow's trigger, graph and settings."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    trigger = models.JSONField()
    graph = models.JSONField()
    settings = models.JSONField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="flow_version_number")]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.number}"


class FlowRun(DueWork):
    """One customer's way through one flow version. `entry_key` makes an entry idempotent: the same trigger (an
    event's dedupe key, a birthday's year) never lets the same customer in twice."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("In the flow")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")
        HOLDOUT = "holdout", _("Holdout (receives nothing)")

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="runs")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="flow_runs")
    entry_key = models.CharField(max_length=120)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    step = models.CharField(max_length=40, blank=True)  # the step it runs next (or ran last, once ended)
    seq = models.PositiveIntegerField(default=0)  # how many steps it has executed
    step_started_at = models.DateTimeField(null=True, blank=True)  # when it reached `step` (a wait counts from it)
    waiting_for = models.CharField(max_length=100, blank=True)  # the event a "wait until X happens" step awaits
    entered_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=40, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    # What the trigger brought (the event's properties: cart items, the product), the coupon a step issued.
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "entry_key", "customer"], name="flow_run_entry")]
        indexes = [
            models.Index(fields=["customer", "flow", "-entered_at"], name="flow_run_customer_idx"),
            models.Index(fields=["flow", "status", "step"], name="flow_run_step_idx"),
            # Active runs to exit or convert when their customer orders: (customer) among the active only.
            models.Index(fields=["customer"], condition=Q(status="active"), name="flow_run_active_idx"),
            # The events that runs wait for ("until X happens"), read by the event reader on every pass.
            models.Index(fields=["waiting_for"], condition=~Q(waiting_for=""), name="flow_run_waiting_idx"),
            # Conversions: a customer's runs that entered recently and have not converted yet.
            models.Index(
                fields=["customer", "entered_at"], condition=Q(converted_at__isnull=True), name="flow_run_goal_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of flow {self.flow_id} ({self.status})"


class FlowStepLog(models.Model):
    """A step a run executed. `outcome` is what happened: passed on (with the branch taken), waiting began,
    skipped (a send the policy or the flows' priority stopped), exited. `done` is False only while a step with an
    outside effect (a webhook, a staff notice) is under way: if its worker dies, the step is not done again."""

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="steps")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.PositiveIntegerField()
    step = models.CharField(max_length=40)
    kind = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16)
    detail = models.CharField(max_length=200, blank=True)
    done = models.BooleanField(default=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="flow_step_once")]
        indexes = [models.Index(fields=["flow", "step", "outcome"], name="flow_step_count_idx")]


class TriggerCursor(models.Model):
    """How far the trigger reader has read the event store (Event.id), and when each scan last ran."""

    name = models.CharField(max_length=40, primary_key=True)
    position = models.BigIntegerField(default=0)
    ran_at = models.DateTimeField(null=True, blank=True)


class ProductSubscription(models.Model):
    """A customer asked to hear when a product is back in stock, or when a category gets a new product."""

    class Kind(models.TextChoices):
        BACK_IN_STOCK = "back_in_stock", _("Back in stock")
        NEW_PRODUCT = "new_product", _("New product")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="product_subscriptions")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey("catalog.Variant", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey("catalog.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "product", "variant", "category"],
                condition=Q(notified_at__isnull=True),
                name="product_subscription_open",
            )
        ]
        indexes = [models.Index(fields=["kind"], condition=Q(notified_at__isnull=True), name="product_sub_open_idx")]
