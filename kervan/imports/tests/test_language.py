"""An import's report is read by anyone, in their own language: the run (in the background, in whatever language
the worker has) stores each reason as the catalogue's English message filled in, and every place that shows it
(the job's page, its CSV report, the API) puts it into the reader's language."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.imports.models import ImportStatus
from kervan.imports.report_text import localized

from .conftest import csv_file

pytestmark = pytest.mark.django_db

ROWS = [
    ["E-posta", "Ad", "Doğum tarihi"],
    ["ali@", "Ali", ""],
    ["", "Nobody", ""],
    ["x@example.com", "X", "31.02.2020"],
]
STORED = [
    (2, "invalid_email", "'ali@' is not a valid email address."),
    (3, "missing_identity", "A customer needs an email or a phone number."),
    (4, "invalid_date", "'31.02.2020' is not a date (use YYYY-MM-DD or DD.MM.YYYY)."),
]
TURKISH = [
    "'ali@' geçerli bir e-posta adresi değil.",
    "Müşterinin bir e-posta adresi ya da telefon numarası olmalıdır.",
    "'31.02.2020' bir tarih değil (YYYY-AA-GG ya da GG.AA.YYYY kullanın).",
]


@pytest.fixture
def job(run_import, make_user):
    uploader = make_user(username="uploader-tr", language="tr")
    with translation.override("tr"):  # a Turkish uploader, a worker in Turkish: the stored text is still English
        job = run_import("customers", csv_file(ROWS), actor=Actor.for_user(uploader))
        assert translation.get_language() == "tr"  # the run does not leak its language
    return job


def test_reasons_are_stored_in_the_catalogue_language_whoever_uploads(job):
    assert job.status == ImportStatus.DONE
    assert list(job.row_errors.order_by("row").values_list("row", "code", "reason")) == STORED


@pytest.mark.parametrize(("language", "expected"), [("tr", TURKISH), ("en", [r for _, _, r in STORED])])
def test_the_report_is_shown_in_the_readers_language(job, make_user, language, expected):
    reader = make_user(username=f"reader-{language}", language=language)
    client = Client()
    client.force_login(reader)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    for reason in expected:
        assert reason.replace("'", "&#x27;") in page
    report = b"".join(client.get(reverse("imports:report", args=[job.pk])).streaming_content).decode("utf-8-sig")
    header = "Satır,Sütun,Değer,Sorun,Kod" if language == "tr" else "Row,Column,Value,Problem,Code"
    assert report.splitlines()[0] == header
    for reason in expected:
        assert reason in report


def test_the_api_answers_reasons_in_the_requested_language(job, api):
    for language, expected in (("tr", TURKISH), ("en", [r for _, _, r in STORED])):
        response = api.client.get(f"/api/v1/imports/{job.pk}/errors", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        assert [item["reason"] for item in response.json()["items"]] == expected


def test_values_the_user_wrote_are_never_translated():
    with translation.override("tr"):
        # "Email" is a message id, but here it is the cell's own text.
        assert localized("'Email' is not a valid email address.") == "'Email' geçerli bir e-posta adresi değil."
        assert localized("Order Customers: A line needs a price.") == "Sipariş Customers: Satırda fiyat olmalıdır."
        assert localized("a text that is no message") == "a text that is no message"
