"""The 360's first read through statements compiled once per process (kervan.customer360.compiled) gives exactly
what the querysets give: the header, the timeline's first page of every kind and of all together, the rows loaded by
id, and the page's timeline rows made in Python."""

import datetime as dt

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kervan.accounts.actors import Actor
from kervan.catalog.actions import product_create
from kervan.core.errors import NotFound
from kervan.customer360 import timeline
from kervan.customer360.compiled import Statement
from kervan.customer360.selectors import customer_360_read
from kervan.customer360.views import _timeline_rows
from kervan.customers import registry
from kervan.customers import selectors as customer_selectors
from kervan.customers.actions import customer_merge, customer_update, identity_add, note_add
from kervan.customers.consent import consent_record
from kervan.customers.models import Customer, CustomerNote
from kervan.customers.tests.factories import make_customer, make_order
from kervan.events.actions import event_record
from kervan.feedback.actions import review_create
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.support.chat_actions import chat_post, chat_start
from kervan.support.csat import csat_answer
from kervan.support.ticket_actions import ticket_create, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def _everything(customer: Customer) -> None:
    """An entry of every registered kind, some at one instant."""
    product = product_create(actor=SYSTEM, title="Çaydanlık", variants=[{"sku": f"CY-{customer.pk}", "price": "10"}])
    order = make_order(customer, placed_at=T0)
    order_set_status(actor=SYSTEM, order=order, status="paid", occurred_at=T0 + dt.timedelta(hours=1))
    second = make_order(customer, placed_at=T0 + dt.timedelta(hours=1))
    return_create(
        actor=SYSTEM, order=order, lines=[{"order_line_id": order.lines.get().pk, "quantity": 1}], reason="size"
    )
    refund_create(actor=SYSTEM, order=second, amount="10.00")
    review_create(actor=SYSTEM, order=order, rating=4, submitted_at=T0 + dt.timedelta(hours=2))
    note_add(actor=SYSTEM, customer=customer, body="Kapıda ödeme istiyor\nakşam arayın")
    consent_record(actor=SYSTEM, customer=customer, channel="email", purpose="marketing", status="granted")
    consent_record(actor=SYSTEM, customer=customer, channel="sms", purpose="marketing", status="refused")
    customer_merge(actor=SYSTEM, survivor=customer, merged=make_customer())
    ticket = ticket_create(actor=SYSTEM, customer=customer, subject="Kargo gecikti", body="Siparişim nerede?")
    ticket_reply(actor=SYSTEM, ticket=ticket, body="Yarın teslim edilecek.")
    solved = ticket_create(actor=SYSTEM, customer=customer, requester_email="csat@example.com", subject="S", body="?")
    ticket_set_status(actor=SYSTEM, ticket=solved, status="solved")
    csat_answer(survey=solved.surveys.get(), score=4, comment="Teşekkürler")
    chat_post(conversation=chat_start(email=customer.email), sender="visitor", body="Kargom nerede kaldı?")
    for i in range(3):
        event_record(
            name="Viewed Product",
            occurred_at=T0 + dt.timedelta(minutes=i),
            dedupe_key=f"compiled:{customer.pk}:{i}",
            customer_id=customer.pk,
            properties={"product_id": product.pk},
        )


def _orm_first_page(customer_id: int, sources: list, limit: int) -> list:
    ranks = {s.kind: s.position for s in registry.timeline_sources()}
    branches = [timeline._branch(s.rows(customer_id), s, ranks[s.kind]) for s in sources]
    return list(timeline._merged(branches)[: limit + 1])


def test_the_compiled_first_page_and_loads_give_the_querysets_rows_for_every_kind():
    customer, other = make_customer(email="ayse@example.com", phone="+905321112233"), make_customer()
    _everything(customer)
    _everything(other)
    together = [s for s in registry.timeline_sources() if s.newest_keys is None]
    by_rank = {s.position: s for s in registry.timeline_sources()}
    for who in (customer, other, customer):  # the same statement, each customer's own rows
        for sources in [[s] for s in together] + [together]:
            for limit in (2, 30):
                expected = _orm_first_page(who.pk, sources, limit)
                assert list(timeline._first_page(by_rank, sources, limit)(customer_id=who.pk)) == expected
                assert expected or len(sources) == 1  # all kinds together always have entries here
        for source in registry.timeline_sources():
            ids = list(source.rows(who.pk).values_list("pk", flat=True))
            assert ids, source.kind
            loaded = {row.pk: row for row in timeline._loaded(source)(customer_id=who.pk, ids=ids)}
            queried = source.rows(who.pk).select_related(*source.select_related).in_bulk(ids)
            assert loaded == queried
            assert [timeline.timeline_source(source.kind).present(row)["title"] for row in loaded.values()] == [
                timeline.timeline_source(source.kind).present(queried[pk])["title"] for pk in loaded
            ]
            # another customer's ids are not this customer's rows
            foreign = list(source.rows(other.pk if who is customer else customer.pk).values_list("pk", flat=True))
            assert list(timeline._loaded(source)(customer_id=who.pk, ids=foreign)) == []


def test_the_compiled_header_is_customer_get_and_customer_360():
    customer = make_customer(email="Ayse.Kaya@Example.com", phone="0532 111 22 33")
    customer_update(actor=SYSTEM, customer=customer, tags=["vip", "ankara"])
    identity_add(actor=SYSTEM, customer=customer, kind="anonymous", value="visitor-1")
    consent_record(actor=SYSTEM, customer=customer, channel="email", purpose="marketing", status="granted")
    consent_record(actor=SYSTEM, customer=customer, channel="email", purpose="marketing", status="refused")
    consent_record(actor=SYSTEM, customer=customer, channel="sms", purpose="transactional", status="granted")
    consent_record(actor=SYSTEM, customer=customer, channel="push", purpose="marketing", status="granted")
    no_email = make_customer(email="", phone="")
    make_order(no_email)
    merged_away = make_customer()
    customer_merge(actor=SYSTEM, survivor=customer, merged=merged_away)
    for who in (customer, no_email, customer):
        got, view = customer_360_read(actor=SYSTEM, customer_id=who.pk)
        want = customer_selectors.customer_get(actor=SYSTEM, customer_id=who.pk)
        want_view = customer_selectors.customer_360(actor=SYSTEM, customer=want)
        assert got == want and got.stats == want.stats and view is not None
        assert [getattr(got, f.attname) for f in Customer._meta.concrete_fields] == [
            getattr(want, f.attname) for f in Customer._meta.concrete_fields
        ]
        assert (view.tags, view.identities, view.consents) == (want_view.tags, want_view.identities, want_view.consents)
        assert [i.source for i in view.identities] == [i.source for i in want_view.identities]
    assert customer_360_read(actor=SYSTEM, customer_id=merged_away.pk) == (customer, None)
    with pytest.raises(NotFound):
        customer_360_read(actor=SYSTEM, customer_id=10**9)
    with pytest.raises(NotFound):
        customer_360_read(actor=Actor(scopes={"customers": "read"}), customer_id=-1)


def test_a_statement_runs_a_value_it_cannot_bind_as_a_plain_queryset():
    customer = make_customer()
    note = note_add(actor=SYSTEM, customer=customer, body="x")
    notes = Statement(lambda customer_id: CustomerNote.objects.filter(customer_id=customer_id))
    assert list(notes(customer_id=customer.pk)) == [note]
    assert list(notes(customer_id=None)) == []  # IS NULL, not "= NULL": never the compiled SQL
    assert list(notes(customer_id=customer.pk + 1)) == []
    by_ids = Statement(lambda ids: CustomerNote.objects.filter(pk__in=ids))
    assert list(by_ids(ids=[])) == [] and list(by_ids(ids=[note.pk])) == [note]


def test_a_kind_registered_later_gets_its_own_statements_and_changes_no_one_elses(monkeypatch):
    customer = make_customer()
    note = note_add(actor=SYSTEM, customer=customer, body="Önce")
    actor = Actor(scopes={"customers": "read"})
    before, _cursor = timeline.customer_timeline(actor=actor, customer_id=customer.pk)
    assert [i.kind for i in before] == ["note"]

    def present(note):
        return {"title": "Pinned", "data": {}}

    pinned = registry.TimelineSource(
        kind="pinned",
        label="Pinned",
        position=45,
        area="customers",
        rows=lambda customer_id: CustomerNote.objects.filter(customer_id=customer_id, body__startswith="Ö"),
        time_field="created_at",
        present=present,
    )
    monkeypatch.setitem(registry._registry.timeline, "pinned", pinned)
    after, _cursor = timeline.customer_timeline(actor=actor, customer_id=customer.pk)
    assert sorted((i.kind, i.id) for i in after) == [("note", note.pk), ("pinned", note.pk)]
    monkeypatch.delitem(registry._registry.timeline, "pinned")
    again, _cursor = timeline.customer_timeline(actor=actor, customer_id=customer.pk)
    assert [(i.kind, i.id) for i in again] == [(i.kind, i.id) for i in before]


def test_the_queries_of_a_first_read(api, admin_client):
    customer = make_customer(email="ayse@example.com")
    _everything(customer)
    api.get(f"/customers/{make_customer().pk}")  # statements compiled, key and user cached
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/customers/{customer.pk}").status_code == 200
    # the key (a test's cache starts empty), the customer with stats, consents, tags, identities, the audit row
    assert len(queries) == 6, [q["sql"][:80] for q in queries]
    admin_client.get(f"/customers/{make_customer().pk}/")
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(f"/customers/{customer.pk}/").status_code == 200
    # the session; the header's four; the timeline's kinds together (PostgreSQL: and the events apart), a load per
    # kind on the page (twelve), the order steps, the events' products, the chat's first lines (one per chat shown);
    # three cards, the custom fields; the audit row
    assert len(queries) == (27 if connection.vendor == "postgresql" else 26), [q["sql"][:80] for q in queries]


TEMPLATE = """{% load i18n %}{% for item, shown in entries %}
<li class="tl-{{ item.kind }}">
  <span class="when" title="{{ shown.when_iso }}">{{ shown.when }}</span>
  <span class="icon kind-{{ item.kind }}" aria-hidden="true"></span>
  <div>
    <strong>{% if shown.url %}<a href="{{ shown.url }}">{{ shown.title }}</a>{% else %}{{ shown.title }}{% endif %}</strong>
    {% if shown.summary %}<div{% if not shown.byline %} class="muted"{% endif %}>{{ shown.summary|linebreaksbr }}</div>{% endif %}
    {% if shown.byline %}<div class="muted">{{ shown.byline }}</div>{% endif %}
    {% if shown.steps %}<div class="tl-steps" style="margin-top:4px;padding-left:10px;border-left:2px solid var(--line);font-size:13px">{% for step in shown.steps %}<div class="tl-step"><span class="step-title">{{ step.title }}</span> <time class="muted" datetime="{{ step.when_iso }}">{{ step.when }}</time>{% if step.detail %} <span class="muted">· {{ step.detail }}</span>{% endif %}</div>{% endfor %}</div>{% endif %}
  </div>
</li>
{% endfor %}
{% if next_cursor %}
<li id="timeline-more" style="display:block">
  <a class="button" href="?cursor={{ next_cursor }}{% for k in kinds %}&kind={{ k }}{% endfor %}" hx-get="?cursor={{ next_cursor }}{% for k in kinds %}&kind={{ k }}{% endfor %}" hx-target="#timeline-more" hx-swap="outerHTML">{% translate "Older" %}</a>
</li>
{% endif %}
"""  # noqa: E501 (the template the rows were printed with before, kept here to compare)


def _squeezed(html: str) -> list[str]:
    return [line.strip() for line in html.replace("><", ">\n<").splitlines() if line.strip()]


def test_the_timeline_rows_made_in_python_are_the_templates():
    item = timeline.TimelineItem("order", 7, timezone.now(), None)
    entries = [
        (
            item,
            {
                "title": "Order #1001 <shipped>",
                "url": "/orders/7/?a=1&b=2",
                "summary": "₺10,00 · Yurtiçi\n<b>YK1</b>",
                "when": "01.03.2026 13:00",
                "when_iso": "2026-03-01T13:00:00+03:00",
                "steps": [
                    {"title": "Placed", "when": "01.03.2026", "when_iso": "x", "detail": ""},
                    {"title": "Shipped", "when": "02.03.2026", "when_iso": "y", "detail": "Yurtiçi & co"},
                ],
            },
        ),
        (
            timeline.TimelineItem("note", 8, timezone.now(), None),
            {"title": "Note", "summary": "a\nb", "byline": "Ayşe <admin>", "when": "w", "when_iso": "wi"},
        ),
        (timeline.TimelineItem("event", 9, timezone.now(), None), {"title": "Viewed", "when": "w", "when_iso": "wi"}),
    ]
    for kinds, cursor in (([], None), (["order", "note"], "abc=&<")):
        context = {"entries": entries, "kinds": kinds, "next_cursor": cursor}
        expected = Template(TEMPLATE).render(Context(context))
        assert _squeezed(_timeline_rows(entries, kinds, cursor)) == _squeezed(expected)
