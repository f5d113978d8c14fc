"""The knowledge base: categories, articles with a Turkish and an English text, readers' feedback, and the searches
that found nothing (for editors to write the missing article).

The search index is not a model field: a `tsvector` column on PostgreSQL and an FTS5 table on SQLite, created by
this app's migration for each database and kept in step by kervan.support.search.index (called by the actions)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kervan.core.models import DueWork


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


# ---------------------------------------------------------------- tickets (issue 14)
#
# A ticket is a customer's question and the conversation about it. Its SLA targets come from the policy for its
# priority (a segment's policy first: VIPs answered faster), counted in business hours (kervan.support.business_hours)
# and pushed back by the business time the ticket spent pending the customer. Inbound email, chat and CSAT join
# later: `channel` names where a ticket came from and TicketMessage keeps the email Message-ID to thread replies on.

DEFAULT_BUSINESS_HOURS = {str(day): ["09:00", "18:00"] for day in range(5)}  # Monday (0) to Friday, shop's time


def default_business_hours() -> dict:
    return dict(DEFAULT_BUSINESS_HOURS)


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class SlaPolicy(models.Model):
    """Targets for one priority, in business minutes. With a segment it applies to that segment's members only (and
    before the general policy of the priority)."""

    # Blank for the starting policy of a priority: it is shown by the priority's name, in the reader's language.
    name = models.CharField(max_length=120, blank=True)
    priority = models.CharField(max_length=8, choices=TicketPriority.choices)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    segment = models.ForeignKey("segments.Segment", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # {weekday (0 = Monday): ["HH:MM", "HH:MM"]} in `timezone`; a day not named is closed.
    business_hours = models.JSONField(default=default_business_hours)
    timezone = models.CharField(max_length=64, default="Europe/Istanbul")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "name", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name or str(self.get_priority_display())


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending customer")
        ON_HOLD = "on_hold", _("On hold")
        SOLVED = "solved", _("Solved")
        CLOSED = "closed", _("Closed")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WEB_FORM = "web_form", _("Contact form")
        CHAT = "chat", _("Chat")
        API = "api", _("API")
        AGENT = "agent", _("Agent")

    subject = models.CharField(max_length=200)
    # Null for a sender Kervan does not know yet (the email says who wrote).
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    requester_email = models.CharField(max_length=254, blank=True)
    requester_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.AGENT)
    tags = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)
    # Business seconds the ticket spent pending the customer: the resolution target moves back by as much.
    paused_seconds = models.PositiveIntegerField(default=0)
    sla_policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # When 80% of a target's business time is used: from then on the ticket is "at risk".
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    at_risk_recorded = models.BooleanField(default=False)
    breached_first_response = models.BooleanField(default=False)
    breached_resolution = models.BooleanField(default=False)
    # The customer's language: replies, canned replies and the CSAT email in it; assignment rules can match it.
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.TURKISH)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="support_ticket_created"),  # the list's default order
            models.Index(fields=["status", "-created_at"], name="support_ticket_status"),
            models.Index(fields=["customer", "-created_at"], name="support_ticket_customer"),
            models.Index(fields=["assignee", "status"], name="support_ticket_assignee"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def number(self) -> str:
        return f"T-{self.pk:06d}" if self.pk else "T-"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.SOLVED, self.Status.CLOSED)


class TicketMessage(DueWork):
    class Delivery(models.TextChoices):
        NONE = "", _("Not emailed")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("From the customer")
        OUTBOUND = "outbound", _("Reply")
        NOTE = "note", _("Internal note")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    mentions = models.JSONField(default=list, blank=True)  # staff usernames @mentioned in a note
    # The email's Message-ID (sent or received), for In-Reply-To/References threading.
    email_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField()
    # Emailing a reply (outbound messages only): queued when the reply is written (due_at: DueWork, claimed with
    # kervan.core.claim), sent by a task through the messaging email transport, tried again after a retryable
    # failure, failed for good otherwise.
    delivery = models.CharField(max_length=8, choices=Delivery.choices, blank=True, default="")
    delivery_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        indexes = [models.Index(fields=["delivery", "due_at"], name="support_message_delivery")]


def attachment_path(instance: "TicketAttachment", filename: str) -> str:
    # A random name: the customer's file name is kept in `filename`, never trusted as a path.
    return f"support/attachments/{secrets.token_hex(2)}/{secrets.token_urlsafe(16)}"


class TicketAttachment(models.Model):
    """A file sent with a message (an email's attachment, an agent's upload), within KERVAN_SUPPORT_ATTACHMENTS'
    size and type limits."""

    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class AgentPresence(models.Model):
    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_presence")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OFFLINE)
    updated_at = models.DateTimeField(auto_now=True)
    # Round-robin: the online agent with the lowest turn gets the next new ticket, and then the highest turn + 1 (a
    # counter, not a time: two tickets in the same instant still alternate).
    turn = models.PositiveBigIntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True, blank=True)


class TicketViewer(models.Model):
    """An agent who has a ticket open (seen in the last moments) and whether they are writing a reply: the ticket
    page warns the others, and a reply sent over another agent's newer one asks to be confirmed."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="viewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()
    composing = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="support_ticketviewer_unique")]


class CannedReply(models.Model):
    """A saved answer agents insert into a ticket reply or a chat. The body may use variables (Jinja2 sandbox):
    {{ customer.first_name }}, {{ ticket.number }}, {{ order.number }}, {{ agent.first_name }}…"""

    title = models.CharField(max_length=120)
    # Typed after "/" in the chat console and the reply box to insert the reply.
    shortcut = models.SlugField(max_length=40, blank=True)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.TURKISH)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uses = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title


class AssignmentRule(models.Model):
    """Who gets a new ticket: rules are tried in `position` order and the first whose conditions all hold assigns
    (one agent directly, several by round-robin among those online); no rule matching leaves round-robin among all
    online agents. An empty condition matches anything."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    channel = models.CharField(max_length=8, choices=Ticket.Channel.choices, blank=True)
    tag = models.CharField(max_length=50, blank=True)  # a ticket tag
    language = models.CharField(max_length=2, choices=Language.choices, blank=True)
    segment = models.ForeignKey("segments.Segment", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # A customer tag (kervan.customers Tag, compared case-folded), e.g. "VIP".
    customer_tag = models.CharField(max_length=50, blank=True)
    agents = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    set_priority = models.CharField(max_length=8, choices=TicketPriority.choices, blank=True)
    matched = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self) -> str:
        return self.name


class CsatSurvey(DueWork):
    """ "How did we do?" after a ticket is solved: emailed once (due_at, after KERVAN_CSAT_DELAY_MINUTES) with one
    link per score; the answer (1–5 and an optional comment) lands on the ticket, the agent's report and the
    customer's timeline. A ticket solved again after reopening gets a new survey."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="surveys")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.CharField(max_length=254)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.TURKISH)
    # due_at (DueWork, claimed with kervan.core.claim): when to email it; None once sent or given up.
    sent_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)  # 1 (very unhappy) to 5 (very happy)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["sent_at", "due_at"], name="support_csat_due"),
            models.Index(fields=["answered_at"], name="support_csat_answered"),
        ]


# ---------------------------------------------------------------- live chat (issue 14)
#
# A conversation between a storefront visitor (the widget) and agents (the console), over WebSockets (Django
# Channels). The visitor holds `visitor_key`, a random secret the widget keeps: it is the only way to read a
# conversation from the storefront. Identified visitors are linked to their customer; an anonymous one is linked
# when the tracker's anonymous id identifies (identity resolution).


class ChatConversation(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for an agent")
        ACTIVE = "active", _("Active")
        CLOSED = "closed", _("Closed")

    visitor_key = models.CharField(max_length=64, unique=True)
    anonymous_id = models.CharField(max_length=64, blank=True, db_index=True)  # the tracker's visitor id
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="chats"
    )
    visitor_name = models.CharField(max_length=200, blank=True)
    visitor_email = models.CharField(max_length=254, blank=True)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.TURKISH)
    page_url = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="chats"
    )
    started_at = models.DateTimeField()
    # The first agent message: started_at → first_agent_message_at is the visitor's wait (the reports' chat wait).
    first_agent_message_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set when the conversation became a ticket (converted by an agent, or unanswered/offline).
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="chats")
    # Read state: the id of the last message each side has seen.
    visitor_read_upto = models.PositiveBigIntegerField(default=0)
    agent_read_upto = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("chat")
        verbose_name_plural = _("chats")
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="support_chat_status"),
            models.Index(fields=["customer", "-started_at"], name="support_chat_customer"),
            models.Index(fields=["assignee", "status"], name="support_chat_assignee"),
        ]


class ChatMessage(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    conversation = models.ForeignKey(ChatConversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=8, choices=Sender.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
