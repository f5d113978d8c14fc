"""An import's report is stored text: it is written in the language of the person who uploaded the file,
whatever language the background worker runs in."""

import pytest
from django.utils import translation

from kervan.accounts.actors import Actor
from kervan.imports.models import ImportStatus

from .conftest import csv_file

pytestmark = pytest.mark.django_db

ROWS = [["E-posta", "Ad"], ["ali@", "Ali"], ["", "Nobody"]]


@pytest.mark.parametrize(
    ("language", "reasons"),
    [
        (
            "tr",
            [
                "'ali@' geçerli bir e-posta adresi değil.",
                "Müşterinin bir e-posta adresi ya da telefon numarası olmalıdır.",
            ],
        ),
        ("en", ["'ali@' is not a valid email address.", "A customer needs an email or a phone number."]),
    ],
)
def test_report_reasons_are_in_the_uploaders_language(run_import, make_user, language, reasons):
    uploader = make_user(username=f"uploader-{language}", language=language)
    worker_language = "en" if language == "tr" else "tr"
    with translation.override(worker_language):
        job = run_import("customers", csv_file(ROWS), actor=Actor.for_user(uploader))
        assert translation.get_language() == worker_language  # the run does not leak its language
    assert job.status == ImportStatus.DONE
    report = list(job.row_errors.order_by("row").values_list("row", "code", "reason"))
    assert report == [(2, "invalid_email", reasons[0]), (3, "missing_identity", reasons[1])]
