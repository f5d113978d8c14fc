"""A database that is down or gives up on a statement is a 503 with Retry-After, never a 500, and writes nothing."""

import pytest
from django.db import OperationalError, connection

from kervan.accounts.testing import login_client, make_role_user
from kervan.customers.models import Customer

pytestmark = pytest.mark.django_db


def _unreachable(only: str = ""):
    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(only):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return refuse


def test_api_answers_503_and_writes_nothing(api):
    api.get("/customers/")  # the key is known before the outage
    with connection.execute_wrapper(_unreachable(only="INSERT")):
        response = api.post("/customers/", {"first_name": "Ayşe", "email": "ayse.outage@example.com"})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["code"] == "database_unavailable" and "try again" in response.json()["detail"]
    assert not Customer.objects.filter(email="ayse.outage@example.com").exists()


def test_pages_and_session_api_calls_answer_503_even_when_the_session_cannot_load():
    client = login_client(make_role_user("admin"))
    client.raise_request_exception = False
    with connection.execute_wrapper(_unreachable()):
        page = client.get("/customers/")
        api = client.get("/api/v1/customers/")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert "try again in a few seconds" in page.content.decode()
    assert api.status_code == 503 and api["Retry-After"] == "5" and api.json()["code"] == "database_unavailable"
