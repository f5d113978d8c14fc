"""A shop's order history as its old platform exports it: invoice lines keyed by the shop's own customer number,
guest sales, cancellation invoices, its own statuses, currency and time zone (issue 11)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.core.testing import SHARED_DATA
from kervan.currency.models import ExchangeRate
from kervan.customers.models import Customer, CustomerStats, Identity
from kervan.events.models import Event
from kervan.imports import actions, base
from kervan.imports.fields import check_mapping
from kervan.imports.models import ImportJob, ImportProfile, ImportStatus
from kervan.imports.selectors import import_report_csv
from kervan.orders.models import Order, OrderLine, OrderStatusChange, Refund, Return, Shipment
from kervan.orders.stats_rebuild import stats_rebuild

from .conftest import csv_file

pytestmark = pytest.mark.django_db
LONDON = dt.UTC  # Europe/London is UTC in winter: 08:26 there is 08:26 UTC

UCI = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
UCI_ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "12/1/2010 8:26", "2.55", "17850", "United Kingdom"],  # noqa: E501
    ["536365", "71053", "WHITE METAL LANTERN", "6", "12/1/2010 8:26", "3.39", "17850", "United Kingdom"],
    ["536366", "22633", "HAND WARMER UNION JACK", "6", "12/1/2010 8:28", "1.85", "", "United Kingdom"],
    ["536367", "84879", "ASSORTED COLOUR BIRD ORNAMENT", "32", "12/13/2010 8:34", "1.69", "13047.0", "EIRE"],
    ["C536379", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "-2", "12/14/2010 9:41", "2.55", "17850",
     "United Kingdom"],
    ["C536383", "35004C", "SET OF 3 COLOURED  FLYING DUCKS", "-1", "12/14/2010 9:49", "4.65", "15311", "Unspecified"],
]  # fmt: skip


@pytest.fixture
def pounds(db):
    """TCMB rates for the weeks of the file: 1 GBP = 2.40 TRY, so the pound orders count in the totals."""
    day = dt.date(2010, 11, 20)
    while day < dt.date(2011, 1, 10):
        ExchangeRate.objects.create(currency="GBP", on=day, try_per_unit=Decimal("2.4"), source="manual")
        day += dt.timedelta(days=1)


@pytest.fixture
def run(admin_actor, django_capture_on_commit_callbacks):
    """run(rows, options=…, mapping=…, source=…) → the job, after its background task ran."""

    def go(rows, *, options=None, mapping=None, mode="skip", source=None, preset="", name="history.csv"):
        upload = rows if hasattr(rows, "read") else csv_file(rows, name=name)
        with django_capture_on_commit_callbacks(execute=True):
            job = actions.import_job_upload(
                actor=admin_actor, kind="orders", upload=upload, source=source, preset=preset
            )
            actions.import_job_start(actor=admin_actor, job=job, mapping=mapping, mode=mode, options=options)
        job.refresh_from_db()
        return job

    return go


def errors(job) -> list[tuple]:
    return list(job.row_errors.order_by("row", "id").values_list("row", "column", "code"))


def test_invoice_lines_with_store_customer_ids_guests_and_a_cancellation_invoice(run, pounds):
    job = run([UCI, *UCI_ROWS], options={"currency": "GBP", "time_zone": "Europe/London"})
    assert job.status == ImportStatus.DONE, job.failure
    assert job.preset == "uci_online_retail"
    assert errors(job) == []
    assert (job.imported, job.skipped) == (6, 0)
    first = Order.objects.get(number="536365")
    # The file's time zone and currency: 08:26 in London, pounds (not 06:26 and lira).
    assert first.placed_at == dt.datetime(2010, 12, 1, 8, 26, tzinfo=LONDON)
    assert (first.currency, first.total, first.shipping_country) == ("GBP", Decimal("35.64"), "GB")
    assert first.status == "delivered"  # a history export without a status column holds completed sales
    # The customer is known by the shop's own number, scoped to the import's source.
    customer = first.customer
    identity = Identity.objects.get(customer=customer, kind="source_id")
    assert (identity.value, identity.source_id) == ("17850", job.source_id)
    assert (customer.email, customer.phone, customer.country) == ("", "", "GB")
    # "13047.0" (a number column through a spreadsheet) is customer 13047; EIRE is Ireland.
    irish = Order.objects.get(number="536367")
    assert Identity.objects.get(customer=irish.customer, kind="source_id").value == "13047"
    assert irish.shipping_country == "IE"
    # The guest sale is kept, with a profile of its own tagged guest, and counts in revenue.
    guest = Order.objects.get(number="536366")
    assert list(guest.customer.tags.values_list("name", flat=True)) == ["guest"]
    assert not guest.customer.identities.exists()
    assert CustomerStats.objects.get(customer=guest.customer).total_spent == Decimal("26.64")  # 11.10 GBP at 2.40
    # The cancellation invoice takes 2 hearts back from 536365: a return and its refund, linked to the order.
    ret = Return.objects.get()
    assert (ret.order_id, ret.external_id) == (first.pk, "C536379")
    assert list(ret.lines.values_list("order_line__sku", "quantity")) == [("85123A", 2)]
    refund = Refund.objects.get(order=first)
    assert (refund.amount, refund.return_request_id, refund.external_id) == (Decimal("5.10"), ret.pk, "C536379")
    first.refresh_from_db()
    assert first.refunded_total == Decimal("5.10")
    assert first.lines.get(sku="85123A").returned_quantity == 2
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.order_count, stats.returns_count) == (1, 1)
    assert stats.total_spent == Decimal("73.30")  # (35.64 − 5.10) GBP × 2.40: net revenue
    # A cancellation whose sale is not in the file (customer 15311 has no other invoice) is kept, changing no totals.
    alone = Order.objects.get(number="C536383")
    assert (alone.status, alone.total, alone.shipping_country) == ("cancelled", Decimal("4.65"), "")
    assert CustomerStats.objects.get(customer=alone.customer).order_count == 0
    assert job.summary | {"errors": {}} == job.summary
    assert {k: job.summary[k] for k in ("orders", "lines", "returns", "refunds", "guest_orders", "cancellations")} == {
        "orders": 4, "lines": 5, "returns": 1, "refunds": 1, "guest_orders": 1, "cancellations": 1,
    }  # fmt: skip
    # What the order actions would have written: timeline rows and events, and aggregates a recompute agrees with.
    assert list(OrderStatusChange.objects.filter(order=first).values_list("status", flat=True)) == [
        "placed",
        "delivered",
    ]
    assert set(Event.objects.filter(customer_id=customer.pk).values_list("name", flat=True)) == {
        "Placed Order", "Ordered Product", "Returned Product", "Refunded Order",
    }  # fmt: skip
    assert stats_rebuild(check=True).drifted == 0


def test_the_same_file_again_changes_nothing(run, pounds):
    options = {"currency": "GBP", "time_zone": "Europe/London"}
    run([UCI, *UCI_ROWS], options=options)
    counts = (Order.objects.count(), OrderLine.objects.count(), Return.objects.count(), Event.objects.count())
    again = run([UCI, *UCI_ROWS], options=options)
    assert again.status == ImportStatus.DONE and (again.imported, again.unchanged) == (0, 6)
    assert counts == (Order.objects.count(), OrderLine.objects.count(), Return.objects.count(), Event.objects.count())
    moved = [row[:4] + ["12/2/2010 8:26"] + row[5:] if row[0] == "536367" else row for row in UCI_ROWS]
    changed = run([UCI, *moved], options=options)
    assert [e[2] for e in errors(changed)] == ["order_conflict"]
    assert stats_rebuild(check=True).drifted == 0


def test_the_time_zone_and_currency_default_to_the_stores(run):
    job = run([UCI, UCI_ROWS[0]])
    order = Order.objects.get()
    # Istanbul was UTC+2 in 2010: the 08:26 the issue saw become 06:26.
    assert (order.currency, order.placed_at) == ("TRY", dt.datetime(2010, 12, 1, 6, 26, tzinfo=dt.UTC))
    source = Source.objects.create(key="uk-shop", name="UK shop", currency="GBP", time_zone="Europe/London")
    run([UCI, UCI_ROWS[3]], source=source)
    order = Order.objects.get(number="536367")
    assert (order.currency, order.placed_at) == ("GBP", dt.datetime(2010, 12, 13, 8, 34, tzinfo=dt.UTC))
    assert job.status == ImportStatus.DONE


def test_customers_are_matched_by_store_id_then_email_and_phone(run, admin_actor):
    source = Source.objects.create(key="old-shop", name="Old shop")
    by_id = Customer.objects.create(first_name="Known")
    Identity.objects.create(customer=by_id, kind="source_id", value="C-1", source=source)
    other_store = Customer.objects.create(first_name="Elsewhere")
    Identity.objects.create(customer=other_store, kind="source_id", value="C-2", source=Source.objects.create(key="x"))
    by_email = Customer.objects.create(first_name="Mail", email="ayse@example.com")
    Identity.objects.create(customer=by_email, kind="email", value="ayse@example.com")
    header = ["Order", "Date", "Customer No", "Email", "Phone", "Product", "Qty", "Price"]
    rows = [
        ["1", "2024-05-01", "C-1", "", "", "Kalem", "1", "5"],
        ["2", "2024-05-02", "C-2", "", "", "Kalem", "1", "5"],  # C-2 belongs to another store: a new customer
        ["3", "2024-05-03", "", "AYSE@example.com", "", "Kalem", "1", "5"],
        ["4", "2024-05-04", "C-3", "", "0532 111 22 33", "Kalem", "1", "5"],
        ["5", "2024-05-05", "", "", "+90 532 111 22 33", "Kalem", "1", "5"],  # the phone C-3 brought
    ]
    job = run([header, *rows], source=source)
    assert job.status == ImportStatus.DONE and errors(job) == []
    owner = dict(Order.objects.values_list("number", "customer_id"))
    assert owner["1"] == by_id.pk
    assert owner["2"] not in (other_store.pk, by_id.pk)
    assert owner["3"] == by_email.pk
    assert owner["4"] == owner["5"]
    new = Customer.objects.get(pk=owner["4"])
    assert new.phone == "+905321112233"
    assert Identity.objects.get(customer=new, kind="source_id").source_id == source.pk
    assert (job.summary["customers_created"], job.summary["customers_matched"]) == (2, 2)


STATUS_HEADER = ["order_id", "customer_id", "order_date", "status", "product_id", "price", "freight"]
STATUS_ROWS = [
    ["a1", "c1", "2017-10-02 10:56:33", "delivered", "p1", "29.99", "8.72"],
    ["a2", "c2", "2017-10-03 11:00:00", "approved", "p2", "10.00", "2.50"],
    ["a3", "c3", "2017-10-04 12:00:00", "invoiced", "p3", "10.00", "2.50"],
    ["a4", "c4", "2017-10-05 13:00:00", "unavailable", "p4", "10.00", "2.50"],
    ["a5", "c5", "2017-10-06 14:00:00", "created", "p5", "10.00", "2.50"],
    ["a6", "c6", "2017-10-07 15:00:00", "shipped", "p6", "10.00", "2.50"],
    ["a7", "c7", "2017-10-08 16:00:00", "on its way by pigeon", "p7", "10.00", "2.50"],
    ["a1", "c1", "2017-10-02 10:56:33", "delivered", "p8", "5.00", "1.00"],
]


def test_statuses_are_suggested_unknown_ones_refused_before_writing_and_choices_kept(admin_actor):
    source = Source.objects.create(key="olist", name="Olist")
    job = actions.import_job_upload(
        actor=admin_actor, kind="orders", upload=csv_file([STATUS_HEADER, *STATUS_ROWS]), source=source
    )
    assert job.preset == "generic_orders"
    assert job.options["statuses"] == {
        "approved": "paid", "created": "placed", "delivered": "delivered", "invoiced": "paid", "shipped": "shipped",
        "unavailable": "cancelled",
    }  # fmt: skip
    with pytest.raises(KervanError) as refused:
        actions.import_job_start(actor=admin_actor, job=job)
    assert refused.value.code == "unmapped_status" and "'on its way by pigeon'" in refused.value.detail
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT and Order.objects.count() == 0
    actions.import_job_start(
        actor=admin_actor, job=job, options={"statuses": {"on its way by pigeon": "shipped"}}, enqueue=False
    )
    job = actions.import_job_run(job_id=job.pk)
    assert job.status == ImportStatus.DONE and errors(job) == []
    status = dict(Order.objects.values_list("number", "status"))
    assert status == {
        "a1": "delivered", "a2": "paid", "a3": "paid", "a4": "cancelled", "a5": "placed", "a6": "shipped",
        "a7": "shipped",
    }  # fmt: skip
    assert not Shipment.objects.exists()  # shipped without a carrier: accepted, no shipment invented
    first = Order.objects.get(number="a1")
    assert (first.total, first.shipping_total) == (Decimal("44.71"), Decimal("9.72"))  # freight per line, added up
    saved = ImportProfile.objects.get(source=source, kind="orders")
    assert saved.options["statuses"]["on its way by pigeon"] == "shipped"
    again = actions.import_job_upload(
        actor=admin_actor, kind="orders", upload=csv_file([STATUS_HEADER, *STATUS_ROWS]), source=source
    )
    assert again.mapping == job.mapping and again.options["statuses"]["on its way by pigeon"] == "shipped"


def test_a_conflict_inside_an_order_is_one_error_and_a_bad_cell_is_the_only_reason(run):
    header = ["Order No", "Order Date", "Email", "Product", "Quantity", "Unit Price"]
    rows = [
        ["1", "2024-05-01 10:00", "a@example.com", "Kalem", "1", "5"],
        ["1", "2024-05-03 10:00", "a@example.com", "Silgi", "1", "2"],  # another day: the rows disagree
        ["1", "", "", "Defter", "1", "3"],
        ["2", "2024-05-01 10:00", "b@example.com", "Kalem", "x", "5"],  # a bad quantity, nothing else
        ["2", "", "", "Silgi", "1", "2"],
        ["3", "2024-05-01 10:00", "c@example.com", "Kalem", "1", "5"],
        ["3", "2024-05-01 10:20", "", "Silgi", "1", "2"],  # the same invoice printed a minute later
    ]
    job = run([header, *rows])
    assert errors(job) == [(3, "Order Date", "order_conflict"), (5, "Quantity", "invalid_number")]
    conflict = job.row_errors.get(code="order_conflict").reason
    assert conflict == "Order 1: its rows disagree on Order date ('2024-05-01 10:00', then '2024-05-03 10:00')."
    assert (job.imported, job.skipped) == (2, 5)
    assert list(Order.objects.values_list("number", flat=True)) == ["3"]
    assert Order.objects.get().placed_at == dt.datetime(2024, 5, 1, 7, 0, tzinfo=dt.UTC)


def test_negative_lines_refund_rows_and_refund_statuses_become_returns_and_refunds(run):
    header = ["Order No", "Order Date", "Email", "SKU", "Product", "Quantity", "Unit Price", "Status",
              "Refunded Amount", "Original Order"]  # fmt: skip
    rows = [
        ["1", "2024-05-01", "a@example.com", "K", "Kalem", "3", "10", "teslim edildi", "", ""],
        ["1", "", "", "K", "Kalem", "-1", "10", "", "", ""],  # one pen back, on the same order
        ["2", "2024-05-02", "a@example.com", "S", "Silgi", "2", "5", "paid", "4", ""],  # a partial refund
        ["3", "2024-05-03", "a@example.com", "D", "Defter", "1", "20", "refunded", "", ""],
        ["4", "2024-05-04", "a@example.com", "M", "Masa", "1", "100", "returned", "", ""],
        ["R-9", "2024-05-06", "a@example.com", "S", "Silgi", "-1", "5", "", "", "2"],  # names its order
        ["5", "2024-05-05", "b@example.com", "K", "Kalem", "2", "10", "paid", "", ""],
        ["C5", "2024-05-06", "b@example.com", "K", "Kalem", "-2", "10", "", "", ""],  # takes all of a paid order
    ]
    job = run([header, *rows], options={"cancel_prefix": "C"})
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    orders = {o.number: o for o in Order.objects.all()}
    assert set(orders) == {"1", "2", "3", "4", "5"}
    one, two, three, four, five = (orders[n] for n in "12345")
    assert (one.status, one.total, one.refunded_total) == ("delivered", Decimal("30.00"), Decimal("10.00"))
    assert one.lines.get().returned_quantity == 1
    assert sorted(two.refunds.values_list("amount", flat=True)) == [Decimal("4.00"), Decimal("5.00")]
    assert two.returns.get().external_id == "R-9" and two.refunded_total == Decimal("9.00")
    assert (three.status, three.refunded_total) == ("paid", Decimal("20.00"))
    assert (four.status, four.refunded_total, four.lines.get().returned_quantity) == ("delivered", 100, 1)
    assert (five.status, five.refunded_total, five.returns.count()) == ("cancelled", 0, 0)
    assert list(five.status_changes.values_list("status", flat=True)) == ["placed", "paid", "cancelled"]
    stats = CustomerStats.objects.get(customer=one.customer)
    assert (stats.order_count, stats.returns_count) == (4, 3)
    assert stats.total_spent == Decimal("30.00") - 10 + 10 - 9 + 20 - 20 + 100 - 100
    assert stats_rebuild(check=True).drifted == 0
    assert not Return.objects.filter(waiting=True).exists()  # each return's money came back in the same file


def test_mapping_errors_name_every_missing_field_as_the_page_labels_it():
    with pytest.raises(KervanError) as exc:
        check_mapping("orders", ["E-posta", "Ürün"], {"E-posta": "email", "Ürün": "title"})
    assert exc.value.detail == (
        "Map a column to each of these fields: Order number; Order date; Unit price or Line total."
    )
    with pytest.raises(KervanError) as exc:
        check_mapping("orders", ["A", "B"], {"A": "placed_at", "B": "placed_at"})
    assert exc.value.detail == "Two columns are mapped to 'Order date'."


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"currency": "XYZ"}, "invalid_currency"),
        ({"time_zone": "Europe/Atlantis"}, "invalid_time_zone"),
        ({"date_order": "ydm"}, "invalid_setting"),
        ({"statuses": {"x": "lost"}}, "invalid_status"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(admin_actor, options, code):
    job = actions.import_job_upload(actor=admin_actor, kind="orders", upload=csv_file([UCI, *UCI_ROWS]))
    with pytest.raises(KervanError) as exc:
        actions.import_job_start(actor=admin_actor, job=job, options=options)
    assert exc.value.code == code
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT and Order.objects.count() == Customer.objects.count() == 0


def test_a_failure_while_writing_leaves_nothing(run, monkeypatch):
    from kervan.imports.orders_write import OrderWriter

    def broken(self):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(OrderWriter, "_stats", broken)
    job = run([UCI, *UCI_ROWS])
    assert job.status == ImportStatus.FAILED
    assert Order.objects.count() == Customer.objects.count() == Event.objects.count() == Identity.objects.count() == 0


def test_refuse_mode_writes_nothing_when_one_order_is_bad(run):
    rows = [*UCI_ROWS, ["536400", "X1", "THING", "1", "13/45/2010 8:00", "1.00", "17850", "United Kingdom"]]
    job = run([UCI, *rows], mode="refuse")
    assert job.status == ImportStatus.REFUSED and [e[2] for e in errors(job)] == ["invalid_datetime"]
    assert Order.objects.count() == Customer.objects.count() == 0


def test_the_report_says_how_many_problems_it_leaves_out(run, monkeypatch):
    monkeypatch.setattr(base, "MAX_STORED_ERRORS", 2)
    rows = [["9", "X", "T", "x", "12/1/2010 8:26", "1", "", ""] for _ in range(5)]
    job = run([UCI, *rows])
    assert (job.error_count, job.errors_stored, job.errors_omitted) == (5, 2, 3)
    report = "".join(import_report_csv(job=job, language="en"))
    assert report.splitlines()[-1] == ",,,3 more problems are not listed here.,"


def test_import_file_command_dry_run_summary_and_bad_input(tmp_path, capsys):
    path = tmp_path / "Online Retail.csv"
    path.write_text("\n".join(",".join(row) for row in [UCI, *UCI_ROWS]) + "\n", encoding="utf-8")
    call_command("import_file", "orders", str(path), "--currency", "GBP", "--timezone", "Europe/London", "--dry-run")
    out, err = capsys.readouterr()
    import json

    summary = json.loads(out)
    assert summary["dry_run"] and summary["status"] == "done"
    assert {k: summary[k] for k in ("rows", "orders", "lines", "returns", "guest_orders", "customers_created")} == {
        "rows": 6, "orders": 4, "lines": 5, "returns": 1, "guest_orders": 1, "customers_created": 3,
    }  # fmt: skip
    assert (summary["payments"], summary["reviews"], summary["errors"]) == (0, 0, {})
    assert "rows checked" in err
    assert Order.objects.count() == Customer.objects.count() == ImportJob.objects.count() == 0
    call_command("import_file", "orders", str(path), "--currency", "GBP")
    capsys.readouterr()
    assert Order.objects.count() == 4
    from django.core.management.base import CommandError

    for args, message in (
        (["orders", str(tmp_path / "missing.csv")], "no such file"),
        (["orders", str(path), "--currency", "QQQ"], "'QQQ' is not a currency code such as TRY."),
        (["orders", str(path), "--timezone", "Mars/Olympus"], "is not a time zone"),
    ):
        with pytest.raises(CommandError) as exc:
            call_command("import_file", *args)
        assert exc.value.returncode == 2 and message in str(exc.value)
    assert Order.objects.count() == 4


DATA = SHARED_DATA / "exports"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/exports is not here (a fresh clone)")


@needs_data
def test_a_real_shopify_orders_export_header_is_recognised(run):
    header = (DATA / "shopify" / "orders_export_header.csv").read_text(encoding="utf-8-sig").strip().split(",")
    assert len(header) == 79

    def row(**cells):
        return [cells.get(name, "") for name in header]

    rows = [
        row(**{"Name": "#1001", "Email": "ayse@example.com", "Financial Status": "paid", "Currency": "USD",
               "Total": "25.00", "Shipping": "5.00", "Created at": "2023-01-15 10:05:31 +0300",
               "Lineitem quantity": "2", "Lineitem name": "Kupa", "Lineitem price": "10.00",
               "Lineitem sku": "KUP-1", "Fulfillment Status": "fulfilled", "Billing Name": "Ayşe Yılmaz",
               "Shipping City": "İzmir", "Shipping Country": "TR"}),
        row(**{"Name": "#1002", "Email": "can@example.com", "Financial Status": "partially_refunded",
               "Currency": "USD", "Total": "30.00", "Created at": "2023-01-16 09:00:00 +0300",
               "Lineitem quantity": "3", "Lineitem name": "Tabak", "Lineitem price": "10.00",
               "Refunded Amount": "10.00"}),
        row(**{"Name": "#1002", "Email": "can@example.com", "Created at": "2023-01-16 09:00:00 +0300",
               "Lineitem quantity": "1", "Lineitem name": "Peçete", "Lineitem price": "0.00"}),
        row(**{"Name": "#1003", "Email": "deniz@example.com", "Financial Status": "voided", "Currency": "USD",
               "Total": "12.00", "Created at": "2023-01-17 09:00:00 +0300", "Cancelled at": "2023-01-17 12:00:00 +0300",
               "Lineitem quantity": "1", "Lineitem name": "Vazo", "Lineitem price": "12.00"}),
    ]  # fmt: skip
    job = run([header, *rows])
    assert job.preset == "shopify_orders"
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    first, second, third = Order.objects.order_by("number")
    assert (first.status, first.currency, first.total, first.shipping_city) == ("fulfilled", "USD", 25, "İzmir")
    assert first.placed_at == dt.datetime(2023, 1, 15, 7, 5, 31, tzinfo=dt.UTC)
    assert (first.customer.first_name, first.customer.last_name) == ("Ayşe", "Yılmaz")
    assert (second.status, second.lines.count(), second.refunded_total) == ("paid", 2, Decimal("10.00"))
    assert third.status == "cancelled"
    assert third.status_changes.get(status="cancelled").occurred_at == dt.datetime(2023, 1, 17, 9, tzinfo=dt.UTC)


@needs_data
def test_the_real_woocommerce_order_export_sample(run):
    """The WebToffee sample, read where it is: one row per order, line items encoded in line_item_N cells, a guest
    (customer_id 0) known by email, refund items. Its order 1002 refunds 46.00 of a 33.04 order: reported."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    path = DATA / "woocommerce" / "webtoffee_order_export_Sample_Order.csv"
    job = run(SimpleUploadedFile(path.name, path.read_bytes()))
    assert job.preset == "woocommerce_orders"
    assert job.options["date_order"] == "dmy" and job.options["guest_ids"] == ["0"]
    assert job.status == ImportStatus.DONE
    assert [(e[0], e[2]) for e in errors(job)] == [(3, "invalid_phone"), (3, "invalid_refund")]
    assert "refunds come to more than its total" in job.row_errors.get(code="invalid_refund").reason
    orders = {o.number: o for o in Order.objects.all()}
    assert set(orders) == {"1001", "1003"}
    first = orders["1001"]
    assert (first.status, first.currency, first.total) == ("delivered", "USD", Decimal("22.42"))
    assert first.shipping_country == "US"
    assert first.placed_at.date() == dt.date(2018, 5, 16)
    assert list(first.lines.values_list("sku", "title", "quantity", "unit_price")) == [
        ("A12", "Formal shoe", 1, Decimal("8.00"))
    ]
    assert orders["1003"].lines.count() == 3 and orders["1003"].status == "paid"
    assert Identity.objects.get(kind="source_id", value="3").customer_id == first.customer_id


@needs_data
def test_a_shopify_customers_export_without_emails_is_matched_by_customer_id(
    admin_actor, django_capture_on_commit_callbacks
):
    header = (DATA / "shopify" / "customers_export_header.csv").read_text(encoding="utf-8-sig").strip().split(",")

    def row(**cells):
        return [cells.get(name, "") for name in header]

    rows = [
        row(**{"Customer ID": "7022550000001", "First Name": "Ayşe", "City": "İzmir", "Country Code": "TR"}),
        row(**{"Customer ID": "7022550000002", "Email": "can@example.com", "Accepts Email Marketing": "yes"}),
    ]
    source = Source.objects.create(key="shopify-tr", name="Shopify TR", kind="shopify")
    with django_capture_on_commit_callbacks(execute=True):
        upload = csv_file([header, *rows])
        job = actions.import_job_upload(actor=admin_actor, kind="customers", upload=upload, source=source)
        assert job.preset == "shopify_customers" and job.mapping["Customer ID"] == "customer_id"
        actions.import_job_start(actor=admin_actor, job=job)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.imported == 2, list(job.row_errors.values_list("reason"))
    ayse = Identity.objects.get(kind="source_id", value="7022550000001", source=source).customer
    assert (ayse.first_name, ayse.city, ayse.email) == ("Ayşe", "İzmir", "")
    # Orders of the same store then find her by that id.
    header = ["Order", "Date", "Customer ID", "Product", "Qty", "Price"]
    with django_capture_on_commit_callbacks(execute=True):
        upload = csv_file([header, ["9", "2024-01-02", "7022550000001", "Kupa", "1", "5"]])
        orders = actions.import_job_upload(actor=admin_actor, kind="orders", upload=upload, source=source)
        actions.import_job_start(actor=admin_actor, job=orders)
    assert Order.objects.get().customer_id == ayse.pk


def test_a_magento_order_grid_without_lines_keeps_its_totals(run):
    header = [
        "ID",
        "Purchase Point",
        "Purchase Date",
        "Bill-to Name",
        "Ship-to Name",
        "Grand Total (Base)",
        "Grand Total (Purchased)",
        "Status",
        "Customer Email",
        "Shipping and Handling",
        "Total Refunded",
    ]
    rows = [
        ["000000001", "Main Website", "Oct 19, 2021 3:40:52 PM", "Jon Doe", "Jon Doe", "$45.00", "$45.00",
         "Complete", "jondoe@example.com", "$5.00", ""],
        ["000000002", "Main Website", "Oct 20, 2021 9:00:00 AM", "Jon Doe", "Jon Doe", "$20.00", "$20.00",
         "Closed", "jondoe@example.com", "$5.00", "$20.00"],
    ]  # fmt: skip
    job = run([header, *rows], options={"time_zone": "America/New_York", "currency": "USD"})
    assert job.preset == "magento2_order_grid" and job.status == ImportStatus.DONE, errors(job)
    first, second = Order.objects.order_by("number")
    assert (first.status, first.total, first.shipping_total, first.lines.count()) == ("delivered", 45, 5, 0)
    assert first.placed_at == dt.datetime(2021, 10, 19, 19, 40, 52, tzinfo=dt.UTC)
    assert (second.status, second.refunded_total) == ("paid", Decimal("20.00"))
    assert first.customer.first_name == "Jon"


def test_a_decimal_comma_file(run):
    header = ["Sipariş No", "Sipariş Tarihi", "E-posta", "Ürün Adı", "Adet", "Birim Fiyat"]
    rows = [
        ["1", "01.03.2024", "a@example.com", "Kalem", "2", "1.234,50"],
        ["2", "02.03.2024", "a@example.com", "Silgi", "1", "12,5"],
    ]
    job = run([header, *rows])
    assert job.options["decimal"] == ","
    assert sorted(Order.objects.values_list("total", flat=True)) == [Decimal("12.50"), Decimal("2469.00")]


def test_same_customers_orders_and_totals_on_every_database(run, pounds):
    """Run on SQLite and on PostgreSQL (DATABASE_URL=postgres://…): the same figures, to the cent."""
    rows = list(UCI_ROWS)
    for n in range(40):
        invoice = n // 3
        rows.append([str(537000 + invoice), f"SKU{n % 7}", f"THING {n % 7}", str(1 + n % 5),
                     f"12/{1 + invoice % 20}/2010 {invoice % 24}:{invoice % 60:02d}", f"{(n % 9) + 0.45:.2f}",
                     ["17850", "13047", "", "15311"][invoice % 4], "United Kingdom"])  # fmt: skip
    rows.append(["C537900", "SKU1", "THING 1", "-1", "12/30/2010 9:00", "1.45", "13047", "United Kingdom"])
    job = run([UCI, *rows], options={"currency": "GBP", "time_zone": "Europe/London"})
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    stats = CustomerStats.objects.all()
    figures = (
        Customer.objects.count(),
        Order.objects.count(),
        OrderLine.objects.count(),
        sum(o.total for o in Order.objects.all()),
        sum(o.reporting_total or 0 for o in Order.objects.all()),
        sum(s.total_spent for s in stats),
        sum(s.order_count for s in stats),
        sum(s.returns_count for s in stats),
        sum(r.amount for r in Refund.objects.all()),
    )
    # 3 customers known by id and 4 guests; 18 orders (one a cancellation kept alone), 17 counted; 2 returns.
    assert figures == (7, 18, 45, Decimal("599.47"), Decimal("1438.73"), Decimal("1411.85"), 17, 2, Decimal("6.55"))
    assert stats_rebuild(check=True).drifted == 0


def test_a_return_in_a_later_file_lands_on_the_order_imported_before(run):
    header = ["Order No", "Order Date", "Email", "SKU", "Product", "Quantity", "Unit Price", "Original Order"]
    run([header, ["1", "2024-05-01", "a@example.com", "K", "Kalem", "3", "10", ""]])
    job = run([header, ["R-1", "2024-06-01", "a@example.com", "K", "Kalem", "-2", "10", "1"]])
    assert job.status == ImportStatus.DONE and errors(job) == []
    order = Order.objects.get()
    assert (order.refunded_total, order.lines.get().returned_quantity) == (Decimal("20.00"), 2)
    ret = order.returns.get()
    assert (ret.external_id, ret.created_at) == ("R-1", dt.datetime(2024, 5, 31, 21, 0, tzinfo=dt.UTC))
    assert CustomerStats.objects.get(customer=order.customer).returns_count == 1
    assert stats_rebuild(check=True).drifted == 0
    again = run([header, ["R-1", "2024-06-01", "a@example.com", "K", "Kalem", "-2", "10", "1"]])
    assert (again.unchanged, Return.objects.count(), Refund.objects.count()) == (1, 1, 1)


def test_an_unreadable_email_is_reported_and_the_order_kept(run):
    header = ["Order No", "Order Date", "Email", "Product", "Quantity", "Unit Price", "Country"]
    rows = [
        ["1", "2024-05-01", "ali@", "Kalem", "1", "5", "Atlantis"],
        ["1", "2024-05-01", "ali@", "Silgi", "1", "2", "Atlantis"],
    ]
    job = run([header, *rows])
    assert [(e[0], e[2]) for e in errors(job)] == [(2, "invalid_email"), (2, "invalid_country")]
    reasons = list(job.row_errors.order_by("id").values_list("reason", flat=True))
    assert reasons == [
        "'ali@' is not a valid email address. The order is imported without it.",
        "'Atlantis' is not a country name or two-letter code; the order is imported without it.",
    ]
    order = Order.objects.get()
    assert (order.total, order.shipping_country, order.lines.count()) == (Decimal("7.00"), "", 2)
    assert list(order.customer.tags.values_list("name", flat=True)) == ["guest"]


@needs_data
def test_the_real_magento_customer_samples(admin_actor, django_capture_on_commit_callbacks):
    """Magento 2's own import samples, read where they are. The composite one (a street with a line break) has the
    placeholder phone 123456789: its row is reported for it, with that reason."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    jobs = []
    for name in ("customer_composite.csv", "customer.csv"):
        path = DATA / "magento2" / name
        with django_capture_on_commit_callbacks(execute=True):
            job = actions.import_job_upload(
                actor=admin_actor, kind="customers", upload=SimpleUploadedFile(name, path.read_bytes())
            )
            assert job.preset == "magento2_customers"
            actions.import_job_start(actor=admin_actor, job=job)
        job.refresh_from_db()
        jobs.append(job)
    composite, main = jobs
    assert list(composite.row_errors.values_list("row", "column", "reason")) == [
        (2, "_address_telephone", "'123456789' is not a valid phone number.")
    ]
    assert main.status == ImportStatus.DONE and (main.imported, main.skipped) == (1, 0)
    jon = Customer.objects.get()
    assert (jon.email, jon.first_name, jon.last_name) == ("jondoe@example.com", "Jon", "Doe")
