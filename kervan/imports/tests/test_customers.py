import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from kervan.core.models import AuditLog
from kervan.customers.models import ConsentRecord, Customer, CustomerStats, CustomFieldDefinition, Identity, Tag
from kervan.customers.search import customer_name_key, customer_search_key
from kervan.imports.actions import import_job_run
from kervan.imports.customers_write import BULK_TABLES
from kervan.imports.models import ImportJob, ImportStatus

from .conftest import csv_file, xlsx_file

pytestmark = pytest.mark.django_db

HEADER = ["Ad", "Soyad", "E-posta", "Telefon", "Doğum tarihi", "Şehir", "Cinsiyet", "Etiketler"]
GOOD = [
    ["Ayşe", "Yılmaz", "Ayse.Yilmaz@Example.com", "0532 123 45 67", "23.04.1990", "İstanbul", "Kadın", "vip, bülten"],
    ["Mehmet", "Kaya", "mehmet@example.com", "", "1985-01-02", "Ankara", "Erkek", ""],
    ["Işıl", "Öztürk", "", "+90 505 111 22 33", "", "İzmir", "", "vip"],
]


def test_csv_import_creates_customers_with_identities_stats_and_tags(run_import):
    job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert job.status == ImportStatus.DONE
    assert (job.total_rows, job.imported, job.updated, job.skipped, job.error_count) == (3, 3, 0, 0, 0)
    ayse = Customer.objects.get(email="ayse.yilmaz@example.com")
    assert (ayse.first_name, ayse.last_name, ayse.phone, ayse.city, ayse.gender) == (
        "Ayşe",
        "Yılmaz",
        "+905321234567",
        "İstanbul",
        "female",
    )
    assert ayse.birth_date == dt.date(1990, 4, 23)
    assert ayse.search_key == customer_search_key(
        first_name="Ayşe", last_name="Yılmaz", email=ayse.email, phone=ayse.phone, city="İstanbul"
    )
    assert ayse.name_key == customer_name_key(first_name="Ayşe", last_name="Yılmaz")
    assert sorted(ayse.tags.values_list("name", flat=True)) == ["bülten", "vip"]
    assert set(Identity.objects.filter(customer=ayse).values_list("kind", "value")) == {
        ("email", "ayse.yilmaz@example.com"),
        ("phone", "+905321234567"),
    }
    assert CustomerStats.objects.filter(customer__in=Customer.objects.all()).count() == 3
    isil = Customer.objects.get(phone="+905051112233")
    assert isil.email == "" and list(isil.tags.values_list("name", flat=True)) == ["vip"]
    assert Identity.objects.count() == 4
    assert Tag.objects.filter(name="vip").count() == 1
    assert ayse.source.kind == "import"


def test_xlsx_import(run_import):
    rows = [HEADER, ["Zeynep", "Demir", "zeynep@example.com", 5321112233, dt.datetime(1992, 5, 6), "Bursa", "K", ""]]
    job = run_import("customers", xlsx_file(rows))
    assert job.status == ImportStatus.DONE and job.imported == 1
    zeynep = Customer.objects.get(email="zeynep@example.com")
    assert (zeynep.phone, zeynep.birth_date, zeynep.gender) == ("+905321112233", dt.date(1992, 5, 6), "female")


BAD = [
    ["Ali", "Can", "ali@", "", "", "", "", ""],  # row 3: bad email
    ["Veli", "Er", "veli@example.com", "12", "31.02.1990", "", "belki", ""],  # row 4: phone, date, gender
    ["Nobody", "Known", "", "", "", "", "", ""],  # row 5: no email or phone
]


def test_bad_rows_are_reported_with_row_column_value_and_reason(run_import):
    job = run_import("customers", csv_file([HEADER, GOOD[0], *BAD, GOOD[1]]))
    assert job.status == ImportStatus.DONE
    assert (job.imported, job.skipped, job.error_count) == (2, 3, 5)
    report = list(job.row_errors.order_by("row", "id").values_list("row", "column", "value", "code"))
    assert report == [
        (3, "E-posta", "ali@", "invalid_email"),
        (4, "Telefon", "12", "invalid_phone"),
        (4, "Doğum tarihi", "31.02.1990", "invalid_date"),
        (4, "Cinsiyet", "belki", "invalid_choice"),
        (5, "E-posta", "", "missing_identity"),
    ]
    assert all(job.row_errors.values_list("reason", flat=True))
    assert set(Customer.objects.values_list("email", flat=True)) == {"ayse.yilmaz@example.com", "mehmet@example.com"}


def test_refuse_mode_writes_nothing_when_a_row_is_bad(run_import, admin_actor):
    job = run_import("customers", csv_file([HEADER, GOOD[0], BAD[0], GOOD[1]]), mode="refuse")
    assert job.status == ImportStatus.REFUSED
    assert (job.imported, job.updated, job.skipped, job.error_count) == (0, 0, 1, 1)
    assert Customer.objects.count() == 0 and Identity.objects.count() == 0 and CustomerStats.objects.count() == 0
    assert Tag.objects.count() == 0
    assert job.row_errors.get().row == 3
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1


def test_refuse_mode_imports_a_clean_file(run_import):
    job = run_import("customers", csv_file([HEADER, *GOOD]), mode="refuse")
    assert job.status == ImportStatus.DONE and Customer.objects.count() == 3


def test_reimport_updates_instead_of_duplicating(run_import):
    run_import("customers", csv_file([HEADER, *GOOD]))
    again = run_import("customers", csv_file([HEADER, *GOOD]))
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)
    changed = [
        ["Ayşe", "Yılmaz-Kaya", "ayse.yilmaz@example.com", "", "", "Bursa", "", "sadık"],  # email match
        ["", "", "", "05051112233", "", "", "", ""],  # phone match, nothing new
        ["Mehmet", "Kaya", "mehmet.kaya@example.com", "0532 999 88 77", "", "", "", ""],  # new customer
    ]
    job = run_import("customers", csv_file([HEADER, *changed]))
    assert (job.imported, job.updated, job.unchanged, job.skipped) == (1, 1, 1, 0)
    assert Customer.objects.count() == 4
    ayse = Customer.objects.get(email="ayse.yilmaz@example.com")
    # changed cells win, empty cells keep what was there, tags are added
    assert (ayse.last_name, ayse.city, ayse.phone, ayse.gender) == ("Yılmaz-Kaya", "Bursa", "+905321234567", "female")
    assert sorted(ayse.tags.values_list("name", flat=True)) == ["bülten", "sadık", "vip"]
    assert ayse.search_key == customer_search_key(
        first_name="Ayşe", last_name="Yılmaz-Kaya", email=ayse.email, phone=ayse.phone, city="Bursa"
    )


def test_phone_match_gains_the_new_email_as_an_identity(run_import):
    run_import("customers", csv_file([HEADER, GOOD[2]]))
    job = run_import(
        "customers", csv_file([HEADER, ["Işıl", "Öztürk", "isil@example.com", "0505 111 2233", "", "", "", ""]])
    )
    assert (job.imported, job.updated) == (0, 1)
    isil = Customer.objects.get()
    assert isil.email == "isil@example.com"
    assert set(isil.identities.values_list("kind", flat=True)) == {"email", "phone"}


def test_rows_about_the_same_person_in_one_file_make_one_customer(run_import):
    rows = [HEADER, GOOD[0], ["", "", "ayse.yilmaz@example.com", "", "", "Antalya", "", "yeni"]]
    job = run_import("customers", csv_file(rows))
    assert (job.imported, job.updated) == (1, 1)
    ayse = Customer.objects.get()
    assert ayse.city == "Antalya" and sorted(ayse.tags.values_list("name", flat=True)) == ["bülten", "vip", "yeni"]


def test_email_and_phone_of_two_different_customers_is_a_bad_row(run_import):
    run_import("customers", csv_file([HEADER, GOOD[0], GOOD[2]]))
    job = run_import(
        "customers", csv_file([HEADER, ["X", "Y", "ayse.yilmaz@example.com", "05051112233", "", "", "", ""]])
    )
    assert (job.skipped, job.row_errors.get().code) == (1, "identity_conflict")
    assert Customer.objects.count() == 2


def test_windows_1254_semicolon_file(run_import):
    upload = csv_file([HEADER, GOOD[0], GOOD[2]], delimiter=";", encoding="cp1254", name="excel.csv")
    job = run_import("customers", upload)
    assert (job.status, job.encoding, job.delimiter, job.imported) == ("done", "cp1254", ";", 2)
    assert set(Customer.objects.values_list("first_name", "city")) == {("Ayşe", "İstanbul"), ("Işıl", "İzmir")}


def test_consent_and_custom_fields_when_mapped(run_import):
    CustomFieldDefinition.objects.create(key="shoe_size", label="Ayakkabı", field_type="number")
    rows = [
        ["E-posta", "E-posta izni", "SMS izni", "Ayakkabı"],
        ["a@example.com", "evet", "hayır", "38"],
        ["b@example.com", "", "", "kırk"],
    ]
    job = run_import("customers", csv_file(rows))
    assert (job.imported, job.skipped) == (1, 1)
    assert job.row_errors.get().column == "Ayakkabı"
    a = Customer.objects.get()
    assert (a.consent_email, a.consent_sms, a.custom_fields) == ("granted", "refused", {"shoe_size": 38})
    assert set(ConsentRecord.objects.values_list("channel", "status", "source", "address")) == {
        ("email", "granted", "import", "a@example.com"),
        ("sms", "refused", "import", ""),
    }


def test_one_audit_row_per_job(run_import):
    job = run_import("customers", csv_file([HEADER, *GOOD, BAD[0]]))
    rows = AuditLog.objects.filter(action="import")
    assert rows.count() == 1
    entry = rows.get()
    assert (entry.object_type, entry.object_id) == ("imports.importjob", str(job.pk))
    assert entry.changes["imported"] == 3 and entry.changes["skipped"] == 1
    assert entry.actor_user_id == job.created_by_id


def test_progress_values_when_done(run_import):
    job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert (job.processed_rows, job.total_rows, job.progress_percent) == (3, 3, 100)
    assert job.started_at and job.finished_at and not job.file


def test_task_is_idempotent(run_import):
    job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert import_job_run(job_id=job.pk) is None
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)  # even if asked again by mistake…
    import_job_run(job_id=job.pk)  # …the file is gone, so it fails rather than importing twice
    assert Customer.objects.count() == 3 and Identity.objects.count() == 4
    assert import_job_run(job_id=987654) is None


def _indexes_and_constraints() -> dict:
    """Every index and constraint of the tables a customer import writes in bulk, as the database describes them."""
    with connection.cursor() as cursor:
        return {table: connection.introspection.get_constraints(cursor, table) for table in BULK_TABLES}


@pytest.fixture
def rebuild_from_one_row(settings):
    """First imports of any size take the index-rebuilding path (normally from 50,000 new customers)."""
    settings.KERVAN_IMPORT_REBUILD_INDEXES_FROM = 1


def test_a_crash_while_writing_leaves_nothing(run_import, monkeypatch, rebuild_from_one_row):
    from kervan.imports import customers

    def explode(self, *args):
        raise RuntimeError("disk full")

    before = _indexes_and_constraints()
    monkeypatch.setattr(customers.CustomerImport, "_insert_identities", explode)
    job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert job.status == ImportStatus.FAILED and "Nothing was imported" in job.failure
    assert Customer.objects.count() == 0 and CustomerStats.objects.count() == 0 and Tag.objects.count() == 0
    assert AuditLog.objects.filter(action="import", object_id=str(job.pk)).count() == 1
    # The first import took the indexes away for its writes; the failure put every one of them back.
    assert _indexes_and_constraints() == before


def test_a_first_import_builds_the_indexes_again_after_its_rows(run_import, rebuild_from_one_row):
    before = _indexes_and_constraints()
    assert sum(len(c) for c in before.values()) >= 14  # the real schema: nothing to compare if introspection saw none
    with CaptureQueriesContext(connection) as first:
        job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert job.status == ImportStatus.DONE and Customer.objects.count() == len(GOOD)
    assert any(q["sql"].startswith("DROP INDEX") for q in first.captured_queries)
    assert _indexes_and_constraints() == before
    # The indexes work: an email finds its customer through the identity index, a duplicate is refused.
    identity = Identity.objects.get(kind="email", value="ayse.yilmaz@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(kind="email", value="ayse.yilmaz@example.com", customer=identity.customer)

    # Not a first import any more: indexes are kept up row by row, none is dropped.
    with CaptureQueriesContext(connection) as second:
        job = run_import("customers", csv_file([HEADER, ["Yeni", "Kişi", "yeni@example.com", "", "", ""]]))
    assert job.status == ImportStatus.DONE and Customer.objects.count() == len(GOOD) + 1
    assert not any("DROP INDEX" in q["sql"] or "DROP CONSTRAINT" in q["sql"] for q in second.captured_queries)


def test_a_small_first_import_keeps_its_indexes(run_import, settings):
    settings.KERVAN_IMPORT_REBUILD_INDEXES_FROM = len(GOOD) + 1  # one more new customer than the file has
    with CaptureQueriesContext(connection) as queries:
        job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert job.status == ImportStatus.DONE and Customer.objects.count() == len(GOOD)
    assert not any("DROP INDEX" in q["sql"] or "DROP CONSTRAINT" in q["sql"] for q in queries.captured_queries)


def test_without_the_right_to_drop_indexes_a_first_import_keeps_them(run_import, monkeypatch, rebuild_from_one_row):
    """A database role that may write rows but does not own the tables cannot drop indexes: the import then runs
    the ordinary way instead of failing (here the drop fails on an index that is not there)."""
    from kervan.imports import bulk

    before = _indexes_and_constraints()
    monkeypatch.setattr(bulk, "_pg_index_ddl", lambda tables: (["DROP INDEX kervan_no_such_index"], []))
    monkeypatch.setattr(bulk, "_sqlite_index_ddl", lambda tables: (["DROP INDEX kervan_no_such_index"], []))
    job = run_import("customers", csv_file([HEADER, *GOOD]))
    assert job.status == ImportStatus.DONE and Customer.objects.count() == len(GOOD)
    assert _indexes_and_constraints() == before
