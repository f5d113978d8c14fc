"""The customer import matches an email by its mailbox (kervan.core.emails.email_match_key), like every other path."""

import pytest

from kervan.customers.actions import customer_create
from kervan.customers.models import Customer, Identity
from kervan.imports.models import ImportStatus

from .conftest import csv_file

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("preloaded", [True, False], ids=["identities preloaded", "identities looked up"])
def test_the_import_matches_every_form_of_a_mailbox(admin_actor, run_import, monkeypatch, preloaded):
    if not preloaded:
        monkeypatch.setattr("kervan.imports.customers.PRELOAD_LIMIT", 0)
    ayse = customer_create(actor=admin_actor, first_name="Ayşe", email="ayse.kaya@gmail.com")
    rows = [
        ["Ad", "E-posta", "Şehir"],
        ["Ayşe", "AyseKaya+news@googlemail.com", "Bursa"],  # the known Gmail mailbox
        ["Ali", "ALİ@ŞİRKET.COM", "İzmir"],  # new, then again in another form
        ["Ali", "ALİ@ŞİRKET.COM".lower(), "Ankara"],  # str.lower(): "ali̇@şi̇rket.com", with combining dots
    ]
    job = run_import("customers", csv_file(rows))
    assert job.status == ImportStatus.DONE, list(job.row_errors.values_list("code", "detail"))
    assert (job.imported, job.updated, job.error_count) == (1, 2, 0)
    ayse.refresh_from_db()
    assert ayse.city == "Bursa" and ayse.email == "aysekaya+news@googlemail.com"  # the address as last given
    ali = Customer.objects.exclude(pk=ayse.pk).get()
    assert (ali.email, ali.city) == ("ali@xn--irket-idb.com", "Ankara")
    assert set(Identity.objects.filter(kind="email").values_list("value", "customer_id")) == {
        ("aysekaya@gmail.com", ayse.pk),
        ("ali@xn--irket-idb.com", ali.pk),
    }
