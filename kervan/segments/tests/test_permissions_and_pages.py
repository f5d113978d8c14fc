"""Who may read and change segments (a matrix; a refused request changes nothing), and the pages."""

import json

import pytest
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role
from kervan.core.audit import AuditLog
from kervan.customers.models import Customer, CustomerStats
from kervan.segments import actions
from kervan.segments.models import Segment, SegmentMembership

pytestmark = pytest.mark.django_db

DEFINITION = {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "ankara"}]}
EXPECTED = {  # role → (may read, may write)
    Role.ADMIN: (True, True),
    Role.MARKETING: (True, True),
    Role.ANALYST: (True, False),
    Role.SALES: (True, False),
    Role.SUPPORT: (False, False),
    Role.READ_ONLY: (False, False),
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_permission_matrix(make_user, role):
    read, write = EXPECTED[role]
    user = make_user(role, f"u-{role}")
    client = Client()
    client.force_login(user)
    existing = actions.segment_create(actor=Actor.system(), name="Existing", definition=DEFINITION)
    before = (Segment.objects.count(), AuditLog.objects.count(), Segment.objects.get(pk=existing.pk).name)

    assert (client.get("/segments/").status_code == 200) is read
    assert (client.get(f"/api/v1/segments/{existing.pk}").status_code == 200) is read
    created = client.post(
        "/api/v1/segments", json.dumps({"name": "New", "definition": DEFINITION}), content_type="application/json"
    )
    renamed = client.post(f"/segments/{existing.pk}/", {"name": "Renamed", "match": "all"})
    if write:
        assert created.status_code == 201
        assert renamed.status_code == 302
    else:
        assert created.status_code == 403
        assert renamed.status_code == 403
        assert client.post(f"/segments/{existing.pk}/rebuild/").status_code == 403
        assert client.post(f"/segments/{existing.pk}/delete/").status_code == 403
        assert (Segment.objects.count(), AuditLog.objects.count(), Segment.objects.get(pk=existing.pk).name) == before


def test_builder_count_why_and_members_list(admin_client):
    ankara = Customer.objects.create(first_name="Ali", city="ANKARA")
    Customer.objects.create(first_name="Veli", city="İzmir")
    for c in Customer.objects.all():
        CustomerStats.objects.create(customer=c)
    form = {"name": "Başkent", "match": "all", "c-a1-field": "city", "c-a1-op": "eq", "c-a1-value": "Ankara"}
    count = admin_client.post("/segments/count/", form)
    assert count.status_code == 200 and 'id="count-value">1<' in count.content.decode()
    bad = admin_client.post(
        "/segments/count/", {**form, "c-a2-field": "total_spent", "c-a2-op": "gt", "c-a2-value": "x"}
    )
    assert "conditions[1].value" in bad.content.decode()
    why = admin_client.post("/segments/why/", {**form, "customer_id": str(ankara.pk)})
    assert "is in this segment" in why.content.decode() and "held" in why.content.decode()

    refused = admin_client.post("/segments/new/", {**form, "c-a1-op": "gt"})
    assert refused.status_code == 400 and Segment.objects.count() == 0
    saved = admin_client.post("/segments/new/", form)
    segment = Segment.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/segments/{segment.pk}/"
    assert set(SegmentMembership.objects.values_list("customer_id", flat=True)) == {ankara.pk}
    listing = admin_client.get(f"/customers/?segment={segment.pk}").content.decode()
    assert "Ali" in listing and "Veli" not in listing
    assert "Başkent</a>" in admin_client.get(f"/customers/{ankara.pk}/").content.decode()  # the 360 chip
    export = admin_client.get(f"/customers/export.csv?segment={segment.pk}")
    assert b"Ali" in b"".join(export.streaming_content)


def test_add_to_a_list_from_the_customer_list(admin_client):
    a = Customer.objects.create(first_name="Ali")
    CustomerStats.objects.create(customer=a)
    response = admin_client.post(
        "/lists/customers/bulk/", {"action": "add_to_list", "ids": [a.pk], "value-add_to_list": "Fuar 2026"}
    )
    assert response.status_code in (200, 302)
    segment = Segment.objects.get(name="Fuar 2026", kind="static")
    assert list(SegmentMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)) == [a.pk]


def test_api_members_are_paginated_by_cursor(api):
    for i in range(5):
        c = Customer.objects.create(first_name=f"C{i}", city="Ankara")
        CustomerStats.objects.create(customer=c)
    created = api.post("/segments", {"name": "Ankara", "definition": DEFINITION}).json()
    assert created["member_count"] == 5
    first = api.get(f"/segments/{created['id']}/members", {"limit": 3}).json()
    second = api.get(f"/segments/{created['id']}/members", {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) == 3 and len(second["items"]) == 2 and second["next_cursor"] is None
    assert api.post("/segments/preview", {"definition": DEFINITION}).json()["count"] == 5
