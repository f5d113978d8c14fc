"""Related files imported together (kervan.imports.related): the Olist layout of customers, orders, order items,
payments and reviews, as several files or one zip; joins guessed and counted; one transaction; re-import idempotent;
bad input refused before anything is written."""

import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from kervan.customers.models import Customer, Identity
from kervan.feedback.models import Review
from kervan.imports.actions import import_job_start, import_job_upload
from kervan.imports.models import ImportJob, ImportStatus
from kervan.imports.related import payment_method
from kervan.orders.models import Order, OrderLine, Payment

from .conftest import csv_file

pytestmark = pytest.mark.django_db

CUSTOMERS = [
    ["customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"],
    ["c1", "u1", "01000", "sao paulo", "SP"],
    ["c2", "u1", "01000", "sao paulo", "SP"],  # the same person's second order
    ["c3", "u2", "20000", "rio de janeiro", "RJ"],
    ["c4", "u3", "30000", "belo horizonte", "MG"],
]
ORDERS = [
    ["order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at"],
    ["o1", "c1", "delivered", "2017-10-02 10:56:33", "2017-10-02 11:07:15"],
    ["o2", "c2", "delivered", "2018-01-15 09:00:00", "2018-01-15 09:10:00"],
    ["o3", "c3", "canceled", "2018-02-01 12:00:00", ""],
    ["o4", "c4", "invoiced", "2018-03-05 18:30:00", "2018-03-05 18:40:00"],
]
ITEMS = [
    ["order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date", "price", "freight_value"],
    ["o1", "1", "p-kupa", "s1", "2017-10-06 11:07:15", "29.99", "8.72"],
    ["o2", "1", "p-defter", "s1", "2018-01-19 09:10:00", "100.00", "10.00"],
    ["o2", "2", "p-defter", "s1", "2018-01-19 09:10:00", "100.00", "10.00"],
    ["o3", "1", "p-kalem", "s2", "2018-02-05 12:00:00", "15.50", "5.00"],
    ["o4", "1", "p-kupa", "s1", "2018-03-09 18:40:00", "29.99", "7.00"],
]
PAYMENTS = [
    ["order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"],
    ["o1", "1", "credit_card", "1", "18.12"],
    ["o1", "2", "voucher", "1", "20.59"],
    ["o2", "1", "boleto", "1", "220.00"],
    ["o3", "1", "debit_card", "1", "20.50"],
    ["o4", "1", "kredi kartı", "3", "36.99"],
]
REVIEWS = [
    ["review_id", "order_id", "review_score", "review_comment_title", "review_comment_message", "review_creation_date"],
    ["r1", "o1", "4", "", "Chegou antes do prazo", "2017-10-11 00:00:00"],
    ["r2", "o2", "5", "Ótimo", "Recomendo", "2018-01-25 00:00:00"],
    ["r3", "o3", "1", "", "Pedido cancelado", "2018-02-10 00:00:00"],
]
FILES = {
    "olist_customers_dataset.csv": CUSTOMERS,
    "olist_orders_dataset.csv": ORDERS,
    "olist_order_items_dataset.csv": ITEMS,
    "olist_order_payments_dataset.csv": PAYMENTS,
    "olist_order_reviews_dataset.csv": REVIEWS,
}


def uploads(files=None):
    return [csv_file(rows, name=name) for name, rows in (files or FILES).items()]


def zipped(files=None, name="olist.zip"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for upload in uploads(files):
            archive.writestr(upload.name, upload.read())
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def counts():
    return {
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "payments": Payment.objects.count(),
        "reviews": Review.objects.count(),
    }


NOTHING = {"customers": 0, "orders": 0, "lines": 0, "payments": 0, "reviews": 0}


@pytest.fixture
def run_related(admin_actor, django_capture_on_commit_callbacks):
    def run(upload, *, mapping=None, options=None, mode="skip"):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_upload(actor=admin_actor, kind="related", upload=upload)
            import_job_start(actor=admin_actor, job=job, mapping=mapping, options=options, mode=mode)
        job.refresh_from_db()
        return job

    return run


def test_the_upload_guesses_roles_joins_and_the_preset_and_counts_each_join(admin_actor):
    orphan_items = {**FILES, "olist_order_items_dataset.csv": [*ITEMS, ["o9", "1", "p-x", "s1", "", "1.00", "0"]]}
    job = import_job_upload(actor=admin_actor, kind="related", upload=uploads(orphan_items))
    roles = job.options["related"]["roles"]
    assert roles == {
        "olist_customers_dataset.csv": "customers",
        "olist_orders_dataset.csv": "orders",
        "olist_order_items_dataset.csv": "items",
        "olist_order_payments_dataset.csv": "payments",
        "olist_order_reviews_dataset.csv": "reviews",
    }
    assert job.options["related"]["joins"] == {
        "orders": ["customer_id", "customer_id"],
        "items": ["order_id", "order_id"],
        "payments": ["order_id", "order_id"],
        "reviews": ["order_id", "order_id"],
    }
    assert job.preset == "olist_related"
    assert job.mapping["olist_customers_dataset.customer_unique_id"] == "customer_id"
    assert job.mapping["olist_order_payments_dataset.payment_type"] == "payment_method"
    assert job.mapping["olist_order_reviews_dataset.review_score"] == "review_rating"
    assert "olist_order_items_dataset.order_id" not in job.mapping  # a join column is the join
    joins = job.facts["joins"]
    assert (joins["items"]["rows"], joins["items"]["joined"], joins["items"]["orphans"]) == (6, 5, 1)
    assert (joins["payments"]["joined"], joins["payments"]["orphans"]) == (5, 0)
    assert (joins["orders"]["joined"], joins["orders"]["orphans"]) == (4, 0)
    assert job.facts["values"]["olist_orders_dataset.order_status"] == ["canceled", "delivered", "invoiced"]


def test_related_files_import_customers_orders_payments_and_reviews(run_related):
    job = run_related(uploads(), options={"currency": "BRL", "time_zone": "America/Sao_Paulo"})
    assert job.status == ImportStatus.DONE, (job.failure, list(job.row_errors.values_list("reason", flat=True)))
    assert job.error_count == 0
    assert counts() == {"customers": 3, "orders": 4, "lines": 5, "payments": 5, "reviews": 3}
    u1 = Identity.objects.get(kind="source_id", value="u1").customer
    assert u1.orders.count() == 2  # customer_unique_id: one customer for both orders
    o1 = Order.objects.get(external_id="o1")
    assert o1.currency == "BRL" and o1.total == Decimal("38.71")  # 29.99 + 8.72 freight
    assert o1.placed_at.isoformat() == "2017-10-02T13:56:33+00:00"  # 10:56 in São Paulo
    methods = sorted(Payment.objects.filter(order=o1).values_list("method", "amount", "reference"))
    assert methods == [("card", Decimal("18.12"), "o1/1"), ("wallet", Decimal("20.59"), "o1/2")]
    assert Payment.objects.get(order__external_id="o2").method == "bank_transfer"
    assert Payment.objects.get(order__external_id="o4").installments == 3
    review = Review.objects.get(external_id="r2")
    assert (review.rating, review.title, review.text) == (5, "Ótimo", "Recomendo")
    assert review.order.external_id == "o2" and review.customer_id == u1.pk
    assert Order.objects.get(external_id="o3").status == "cancelled"
    assert job.summary["payments"] == 5 and job.summary["reviews"] == 3
    assert job.summary["rows"] == 4 + 4 + 5 + 5 + 3  # every row of every file, once
    assert job.summary["orphans"] == {"orders": 0, "items": 0, "payments": 0, "reviews": 0}


def test_a_zip_of_the_files_imports_the_same(run_related):
    job = run_related(zipped(), options={"currency": "BRL"})
    assert job.status == ImportStatus.DONE, job.failure
    assert job.file_name == "olist.zip"
    assert counts() == {"customers": 3, "orders": 4, "lines": 5, "payments": 5, "reviews": 3}


def test_importing_the_same_files_again_counts_nothing_twice(run_related):
    run_related(uploads(), options={"currency": "BRL"})
    before = counts()
    again = run_related(uploads(), options={"currency": "BRL"})
    assert again.status == ImportStatus.DONE, again.failure
    assert counts() == before
    assert again.summary["orders_unchanged"] == 4 and again.summary["reviews_unchanged"] == 3
    assert again.summary["payments"] == 0 and again.summary["reviews"] == 0


def test_payments_added_later_to_orders_imported_before_are_added_once(run_related):
    without = {k: v for k, v in FILES.items() if "payments" not in k}
    run_related(uploads(without), options={"currency": "BRL"})
    assert Payment.objects.count() == 0
    run_related(uploads(), options={"currency": "BRL"})
    assert Payment.objects.count() == 5
    run_related(uploads(), options={"currency": "BRL"})
    assert Payment.objects.count() == 5


def test_a_bad_row_in_the_last_file_leaves_nothing_behind_in_refuse_mode(run_related):
    bad = {**FILES, "olist_order_reviews_dataset.csv": [*REVIEWS, ["r4", "o4", "7", "", "", "2018-03-10 00:00:00"]]}
    job = run_related(uploads(bad), options={"currency": "BRL"}, mode="refuse")
    assert job.status == ImportStatus.REFUSED
    assert counts() == NOTHING
    error = job.row_errors.get()
    assert (error.row, error.column, error.code) == (5, "olist_order_reviews_dataset.review_score", "invalid_rating")


def test_a_failure_while_writing_the_last_file_rolls_back_everything(run_related, monkeypatch):
    from kervan.imports import related_run as related

    def broken(self, *args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(related.RelatedImport, "_write_reviews", broken)
    job = run_related(uploads(), options={"currency": "BRL"})
    assert job.status == ImportStatus.FAILED
    assert counts() == NOTHING


def test_in_skip_mode_orphans_and_bad_rows_are_reported_and_the_rest_imported(run_related):
    files = {
        **FILES,
        "olist_order_payments_dataset.csv": [*PAYMENTS, ["o9", "1", "credit_card", "1", "5.00"]],
        "olist_order_reviews_dataset.csv": [*REVIEWS, ["r9", "o4", "5", "", "", "not a date"]],
    }
    job = run_related(uploads(files), options={"currency": "BRL"})
    assert job.status == ImportStatus.DONE
    assert sorted(job.row_errors.values_list("code", flat=True)) == ["invalid_datetime", "orphan_row"]
    assert job.summary["orphans"]["payments"] == 1
    assert counts()["payments"] == 5 and counts()["reviews"] == 3


@pytest.mark.parametrize(
    "change, code",
    [
        ({"options": {"related": {"joins": {"payments": ["payment_sequential", "order_id"]}}}}, "join_matches_nothing"),
        ({"options": {"currency": "XYZ"}}, "invalid_currency"),
        ({"options": {}, "files": "unknown_status"}, "unmapped_status"),
        ({"options": {"related": {"roles": {"olist_orders_dataset.csv": ""}}}}, "missing_orders_file"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(admin_actor, change, code):
    from kervan.core.errors import KervanError

    files = FILES
    if change.get("files") == "unknown_status":
        files = {**FILES, "olist_orders_dataset.csv": [*ORDERS, ["o5", "c4", "weird", "2018-03-06 10:00:00", ""]]}
    job = import_job_upload(actor=admin_actor, kind="related", upload=uploads(files))
    with pytest.raises(KervanError) as raised:
        import_job_start(actor=admin_actor, job=job, options=change["options"])
    assert raised.value.code == code
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.DRAFT
    assert counts() == NOTHING


def test_a_malformed_file_is_refused_at_upload(admin_actor):
    from kervan.core.errors import KervanError

    broken = SimpleUploadedFile("olist.zip", b"PK\x03\x04 not really a zip", content_type="application/zip")
    with pytest.raises(KervanError) as raised:
        import_job_upload(actor=admin_actor, kind="related", upload=broken)
    assert raised.value.code == "unreadable_file"
    old_excel = SimpleUploadedFile(
        "orders.xlsx", b"\xd0\xcf\x11\xe0 old excel", content_type="application/vnd.ms-excel"
    )
    with pytest.raises(KervanError) as raised:
        import_job_upload(actor=admin_actor, kind="related", upload=[*uploads(), old_excel][1:])
    assert raised.value.code == "unreadable_file"
    assert counts() == NOTHING


@pytest.mark.parametrize(
    "raw, method",
    [("credit_card", "card"), ("Kredi Kartı", "card"), ("boleto", "bank_transfer"), ("voucher", "wallet"),
     ("debit_card", "card"), ("Kapıda Ödeme", "cod"), ("", "card")],
)  # fmt: skip
def test_payment_methods_are_read_leniently(raw, method):
    assert payment_method(raw) == method


def test_an_unknown_payment_method_is_a_row_error(run_related):
    files = {**FILES, "olist_order_payments_dataset.csv": [*PAYMENTS, ["o4", "2", "not_defined", "1", "0.00"]]}
    job = run_related(uploads(files), options={"currency": "BRL"})
    assert list(job.row_errors.values_list("row", "code")) == [(7, "unknown_payment_method")]
    assert counts()["payments"] == 5


def test_import_file_command_takes_several_paths_or_a_zip_and_reports_joins(tmp_path, capsys):
    paths = []
    for name, rows in FILES.items():
        path = tmp_path / name
        path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
        paths.append(str(path))
    call_command("import_file", "related", *paths, "--currency", "BRL", "--dry-run")
    dry = json.loads(capsys.readouterr().out)
    assert (dry["orders"], dry["payments"], dry["reviews"], dry["dry_run"]) == (4, 5, 3, True)
    assert counts() == NOTHING
    call_command("import_file", "related", *paths, "--currency", "BRL")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["orders"], summary["lines"], summary["payments"], summary["reviews"]) == (4, 5, 5, 3)
    assert summary["customers_created"] == 3
    assert summary["orphans"] == {"orders": 0, "items": 0, "payments": 0, "reviews": 0}
    assert summary["joins"]["items"]["joined"] == 5
    archive = tmp_path / "olist.zip"
    archive.write_bytes(zipped().read())
    call_command("import_file", "related", str(archive), "--currency", "BRL")
    again = json.loads(capsys.readouterr().out)
    assert again["orders"] == 0 and again["orders_unchanged"] == 4 and counts()["payments"] == 5


def test_import_file_refuses_a_join_that_matches_nothing(tmp_path):
    paths = []
    for name, rows in FILES.items():
        path = tmp_path / name
        path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
        paths.append(str(path))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"settings": {"related": {"joins": {"reviews": ["review_id", "order_id"]}}}}))
    with pytest.raises(CommandError) as raised:
        call_command("import_file", "related", *paths, "--mapping", str(mapping))
    assert raised.value.returncode == 2 and "joins" in str(raised.value)
    assert counts() == NOTHING


# -- the wizard's pages -------------------------------------------------------------------------------------------


def _form(job, **extra):
    data = {f"map_{i}": job.mapping.get(column, "") for i, column in enumerate(job.columns)}
    for i, info in enumerate(job.facts["files"]):
        data[f"role_{i}"] = job.options["related"]["roles"][info["name"]]
    for role, (child, parent) in job.options["related"]["joins"].items():
        data[f"join_{role}_column"], data[f"join_{role}_parent"] = child, parent
    return {**data, "mode": "skip", "currency": "BRL", "time_zone": "", "date_order": "dmy", "decimal": ".",
            "default_status": "delivered", **extra}  # fmt: skip


def test_the_wizard_uploads_several_files_previews_the_joins_and_imports(
    admin_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    response = admin_client.post(reverse("imports:list"), {"kind": "related", "file": uploads()})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("imports:mapping", args=[job.pk])
    html = admin_client.get(response.url).content.decode()
    assert 'id="related-joins"' in html and 'id="join-items"' in html
    assert "olist_order_items_dataset.csv" in html and "Count the joins again" in html
    row = html.split('id="join-payments"')[1].split("</tr>")[0]
    assert '<td class="num">5</td>' in row  # 5 payment rows join, no orphan
    # A join that matches nothing: said on the form, nothing written, the draft kept.
    bad = _form(job, join_payments_column="payment_sequential")
    response = admin_client.post(reverse("imports:mapping", args=[job.pk]), bad)
    assert (
        response.status_code == 400 and "No row of olist_order_payments_dataset.csv joins" in response.content.decode()
    )
    assert ImportJob.objects.get().status == ImportStatus.DRAFT and counts() == NOTHING
    # Counting again with the columns chosen shows the orphans without starting anything.
    response = admin_client.post(reverse("imports:mapping", args=[job.pk]), {**bad, "count_joins": "1"})
    row = response.content.decode().split('id="join-payments"')[1].split("</tr>")[0]
    assert response.status_code == 200 and '<span class="pill refused">5</span>' in row
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("imports:mapping", args=[job.pk]), _form(job))
    assert response.status_code == 302, response.content.decode()[:3000]
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure
    assert counts() == {"customers": 3, "orders": 4, "lines": 5, "payments": 5, "reviews": 3}
    detail = admin_client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "Payments" in detail and "Reviews" in detail and 'id="import-orphans"' in detail


def test_the_wizard_takes_one_zip(admin_client, django_capture_on_commit_callbacks):
    from django.urls import reverse

    admin_client.post(reverse("imports:list"), {"kind": "related", "file": zipped()})
    job = ImportJob.objects.get()
    assert len(job.facts["files"]) == 5 and job.file_name == "olist.zip"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("imports:mapping", args=[job.pk]), _form(job))
    assert counts()["reviews"] == 3


def test_the_wizard_refuses_an_unknown_currency_and_an_unmapped_status(admin_client):
    from django.urls import reverse

    files = {**FILES, "olist_orders_dataset.csv": [*ORDERS, ["o5", "c4", "weird", "2018-03-06 10:00:00", ""]]}
    admin_client.post(reverse("imports:list"), {"kind": "related", "file": uploads(files)})
    job = ImportJob.objects.get()
    response = admin_client.post(reverse("imports:mapping", args=[job.pk]), _form(job, currency="XYZ"))
    assert response.status_code == 400 and "is not a currency code" in response.content.decode()
    response = admin_client.post(reverse("imports:mapping", args=[job.pk]), _form(job))
    assert (
        response.status_code == 400
        and "Choose an order status for each status in the file: &#x27;weird&#x27;" in response.content.decode()
    )
    assert counts() == NOTHING


def test_the_same_totals_on_either_database(run_related):
    """Run on SQLite and on PostgreSQL (DATABASE_URL): the same customers, orders and amounts."""
    from django.db.models import Sum

    run_related(uploads(), options={"currency": "BRL"})
    cent = Decimal("0.01")
    totals = (
        Order.objects.aggregate(t=Sum("total"))["t"].quantize(cent),
        Payment.objects.aggregate(t=Sum("amount"))["t"].quantize(cent),
        Review.objects.aggregate(t=Sum("rating"))["t"],
        Customer.objects.count(),
    )
    assert totals == (Decimal("316.20"), Decimal("316.20"), 10, 3)


def test_the_related_preset_is_data_beside_the_old_ones():
    from kervan.imports.presets import preset_for, presets, related_preset_for

    found = presets()
    assert found["olist_related"].kind == "related" and "payments" in found["olist_related"].files
    assert found["uci_online_retail"].files == {}  # the old presets read as before
    assert preset_for("orders", ["InvoiceNo", "StockCode", "InvoiceDate"]).key == "uci_online_retail"
    assert related_preset_for({"orders": ORDERS[0], "payments": PAYMENTS[0]}).key == "olist_related"
    assert related_preset_for({"orders": ["Sipariş No", "Tarih"]}) is None


def test_the_rates_read_in_one_go_are_those_the_order_actions_use(run_related):
    import datetime as dt

    from kervan.currency.models import ExchangeRate
    from kervan.orders.rates import order_rate

    ExchangeRate.objects.create(
        currency="EUR", on=dt.date(2017, 9, 28), try_per_unit=Decimal("4.1234"), source="manual"
    )
    ExchangeRate.objects.create(currency="EUR", on=dt.date(2017, 10, 2), try_per_unit=Decimal("4.2"), source="manual")
    ExchangeRate.objects.create(currency="EUR", on=dt.date(2018, 3, 1), try_per_unit=Decimal("4.9876"), source="manual")
    run_related(uploads(), options={"currency": "EUR"})
    rates = {o.external_id: o.reporting_rate for o in Order.objects.all()}
    assert rates["o2"] is None and rates["o1"] == Decimal("4.2") and rates["o4"] == Decimal("4.9876")
    for order in Order.objects.all():
        assert order.reporting_rate == order_rate(order.currency, order.placed_at), order.external_id
