"""Fuzz every operation of the API from its own OpenAPI schema: no request may make the server answer 500.

Schemathesis turns /api/v1/openapi.json into Hypothesis strategies (valid and deliberately invalid requests);
each one is sent through Django's WSGI handler, in-process, with a full-access API key, after a little real data
was written through the actions so that ids exist (half the time a path, query or body id is one of them).
Each request runs in a savepoint that is rolled back, so every example starts from the same data (a fuzzed
revoke of our own key or a delete of the seeded customer cannot blind the examples after it).

Checks: never a 5xx; a 2xx body conforms to the declared response schema; every error is JSON with "detail" and
"code". Deterministic (derandomize) and bounded (about 20 s for all operations on SQLite), so it runs in the normal
suite. Requests a schema rarely produces (NUL characters, ids beyond 64 bits, broken JSON, oversized bodies) are
pinned in test_api_edges.py; bench/fuzz_api.py is the bigger one-off against a live server on PostgreSQL.
"""

import json

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.api import api
from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey
from kervan.catalog.actions import category_create, product_create
from kervan.customers.custom_fields import custom_field_define
from kervan.customers.tests.factories import make_customer, make_order

EXAMPLES = 20  # per operation; bench/fuzz_api.py runs hundreds against a live server
RAW_SCHEMA = api.get_openapi_schema()
SCHEMA = schemathesis.openapi.from_dict(json.loads(json.dumps(RAW_SCHEMA, default=str)))
OPERATIONS = [(method.upper(), path) for path, item in RAW_SCHEMA["paths"].items() for method in item]


@pytest.fixture
def wsgi_app(settings):
    """Django's real WSGI handler, minus the per-request connection clean-up that would close the test's
    transaction (Django's own test client does the same)."""
    settings.KERVAN_API_RATE_LIMIT = 10**9
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def known(make_api_key, make_user):
    """Ids that exist, by the name the API gives them in paths, queries and bodies."""
    decoy, _ = make_api_key(name="decoy")
    key, secret = make_api_key()
    clerk = make_user("support", "mehmet")
    first, second = make_customer(), make_customer(phone="+905321234567")
    order = make_order(first, total_lines=((2, "50.00"), (1, "10.00")))
    system = Actor.system()
    category = category_create(actor=system, name="Giyim")
    product = product_create(
        actor=system, title="Keten gömlek", category=category, variants=[{"sku": "FUZZ-1", "price": "50.00"}]
    )
    custom_field_define(actor=system, key="shoe_size", label="Shoe size", field_type="number")
    ids = {
        "customer_id": [first.pk, second.pk],
        "merged_id": [second.pk],
        "order_id": [order.pk],
        "order_line_id": list(order.lines.values_list("pk", flat=True)),
        "product_id": [product.pk],
        "category_id": [category.pk],
        "sku": ["FUZZ-1"],
        "user_id": [key.created_by_id, clerk.pk],
        "actor_user": [key.created_by_id],
        "key_id": [decoy.pk, key.pk],
        "key": ["shoe_size"],
    }
    return {"secret": secret, "ids": ids}


def _swap_known(draw, value, ids):
    """Replace, half the time, a value under a known name with an id that exists (recursively in bodies)."""
    if isinstance(value, dict):
        for name in list(value):
            if name in ids and not isinstance(value[name], (dict, list)) and draw(st.booleans()):
                value[name] = draw(st.sampled_from(ids[name]))
            else:
                _swap_known(draw, value[name], ids)
    elif isinstance(value, list):
        for item in value:
            _swap_known(draw, item, ids)


def _cases(operation, ids):
    generated = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @st.composite
    def with_known_ids(draw):
        case = draw(generated)
        for container in (case.path_parameters, case.query, case.body):
            if isinstance(container, (dict, list)):
                _swap_known(draw, container, ids)
        return case

    return with_known_ids()


def _check_error_shape(response) -> None:
    if response.status_code < 400:
        return
    assert "application/json" in response.headers.get("content-type", [""])[0], response.text[:300]
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str) and isinstance(body.get("code"), str), body


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_makes_the_server_fail(method, path, wsgi_app, known):
    operation = SCHEMA[path][method]
    headers = {"Authorization": f"Bearer {known['secret']}"}

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, known["ids"]))
    def fuzz(case):
        with transaction.atomic():
            response = case.call(app=wsgi_app, headers=headers)
            transaction.set_rollback(True)
        checks = [not_a_server_error]
        if 200 <= response.status_code < 300:
            checks.append(response_schema_conformance)
        case.validate_response(response, checks=checks, headers=headers)
        _check_error_shape(response)

    fuzz()
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2, "a fuzzed write outlived its savepoint"


def test_every_operation_is_fuzzed():
    """Adding an endpoint adds it here; this guards the list against an empty or broken schema."""
    assert len(OPERATIONS) >= 40
    assert ("GET", "/api/v1/customers/{customer_id}") in OPERATIONS
