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


@pytest.mark.django_db(transaction=True)  # a second session must see the customer, and take a real lock
def test_a_web_request_waits_for_a_lock_only_so_long(api):
    """Behind a long lock (a big first import holds the customer tables) a web request is answered 503 after the
    web processes' lock-wait limit instead of holding a worker until the lock goes."""
    import threading
    import time

    from django.db.backends.signals import connection_created

    from kervan.core.db import limit_lock_waits
    from kervan.core.testing import other_session
    from kervan.customers.tests.factories import make_customer

    customer = make_customer()
    limit_lock_waits("300ms")
    try:
        connection.close()  # the next request opens a connection, which gets the limit
        if connection.vendor != "postgresql":  # SQLite readers never wait for a writer (WAL): nothing to limit
            assert api.get(f"/customers/{customer.pk}").status_code == 200
            return
        with other_session(autocommit=False) as other:
            other.execute("LOCK TABLE customers_customer IN ACCESS EXCLUSIVE MODE")  # held until this block ends
            # Without the limit the request would wait for ever: let go after 10 s so the test fails, not hangs.
            release = threading.Timer(10, other.rollback)
            release.start()
            started = time.monotonic()
            response = api.get(f"/customers/{customer.pk}")
            waited = time.monotonic() - started
            release.cancel()
        assert response.status_code == 503 and response["Retry-After"] == "5", response.content
        assert response.json()["code"] == "database_unavailable"
        assert waited < 3
        assert api.get(f"/customers/{customer.pk}").status_code == 200  # the lock gone, the same request works
    finally:
        connection_created.disconnect(dispatch_uid="kervan.core.db.limit_lock_waits")
        connection.close()
