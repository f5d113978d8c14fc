"""Customers API: parse, authorise, call an action or selector, serialise."""

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema, Status

from kervan.core.api import ERRORS, STORABLE
from kervan.core.errors import NotFound
from kervan.core.models import Source
from kervan.core.pagination import paginate
from kervan.customers import actions, consent, custom_fields, privacy, selectors
from kervan.customers.export import customers_export_response
from kervan.customers.models import ConsentRecord, Customer, CustomFieldDefinition
from kervan.customers.schemas import (
    ConsentIn,
    ConsentOut,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    CustomFieldIn,
    CustomFieldOut,
    DuplicateOut,
    IdentityIn,
    MergeIn,
    NoteIn,
    PersonalDataAnonymiseIn,
)

router = Router(tags=["customers"])


class ListQuery(Schema):
    q: str = ""
    tag: str = ""
    city: str = ""
    country: str = ""
    consent_email: str = ""
    consent_sms: str = ""
    has_orders: bool | None = None
    min_spent: str = ""
    created_from: str = ""  # YYYY-MM-DD, the shop's days (both ends included), as on the list page
    created_to: str = ""
    sort: str = "newest"
    cursor: str | None = None
    limit: int = 50


def customer_out(customer: Customer) -> dict:
    stats = getattr(customer, "stats", None)
    return {
        "id": customer.pk,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "birth_date": customer.birth_date,
        "gender": customer.gender,
        "city": customer.city,
        "country": customer.country,
        "language": customer.language,
        "time_zone": customer.time_zone,
        "created_at": customer.created_at,
        "merged_into_id": customer.merged_into_id,
        "anonymised_at": customer.anonymised_at,
        "consent": {c: getattr(customer, f"consent_{c}") or "unknown" for c in ConsentRecord.Channel.values},
        "stats": stats,
    }


def _customer(request, customer_id: int, access: str) -> Customer:
    request.auth.require("customers", access)
    return selectors.customer_get(actor=request.auth, customer_id=customer_id)


def _source(key: str | None) -> Source | None:
    if not key:
        return None
    source = Source.objects.filter(key=key).first()
    if source is None:
        raise NotFound(_("No source '%(key)s'.") % {"key": key}, "source_not_found")
    return source


@router.get("/", response={200: CustomerPage, **ERRORS})
def list_customers(request, query: Query[ListQuery]):
    filters = selectors.CustomerFilters(**query.dict(exclude={"cursor", "limit"}))
    qs, order = selectors.customer_list(actor=request.auth, filters=filters)
    page = paginate(qs, order=order, cursor=query.cursor, limit=query.limit)
    return {"items": [customer_out(c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("/", response={201: CustomerOut, **ERRORS})
def create_customer(request, payload: CustomerIn):
    request.auth.require("customers", "write")
    customer = actions.customer_create(actor=request.auth, **payload.dict())
    return Status(201, customer_out(selectors.customer_get(actor=request.auth, customer_id=customer.pk)))


@router.get("/export", response={200: None, **ERRORS})
def export_customers(request, query: Query[ListQuery]):
    """The filtered list as CSV (UTF-8 with BOM, so Excel shows Turkish letters), streamed."""
    filters = selectors.CustomerFilters(**query.dict(exclude={"cursor", "limit"}))
    return customers_export_response(actor=request.auth, filters=filters)


@router.get("/custom-fields", response={200: list[CustomFieldOut], **ERRORS})
def list_custom_fields(request):
    request.auth.require("customers", "read")
    return list(CustomFieldDefinition.objects.all())


@router.post("/custom-fields", response={201: CustomFieldOut, **ERRORS})
def define_custom_field(request, payload: CustomFieldIn):
    request.auth.require("settings", "write")
    return Status(201, custom_fields.custom_field_define(actor=request.auth, **payload.dict()))


@router.delete("/custom-fields/{key}", response={204: None, **ERRORS})
def delete_custom_field(request, key: str = Path(..., pattern=STORABLE)):
    request.auth.require("settings", "write")
    custom_fields.custom_field_delete(actor=request.auth, key=key)
    return Status(204, None)


@router.patch("/{int:customer_id}", response={200: CustomerOut, **ERRORS})
def update_customer(request, customer_id: int, payload: CustomerPatch):
    customer = _customer(request, customer_id, "write")
    actions.customer_update(actor=request.auth, customer=customer, **payload.dict(exclude_unset=True))
    return customer_out(selectors.customer_get(actor=request.auth, customer_id=customer_id))


@router.delete("/{int:customer_id}", response={204: None, **ERRORS})
def delete_customer(request, customer_id: int):
    customer = _customer(request, customer_id, "write")
    actions.customer_delete(actor=request.auth, customer=customer)
    return Status(204, None)


@router.post("/{int:customer_id}/notes", response={201: dict, **ERRORS})
def add_note(request, customer_id: int, payload: NoteIn):
    customer = _customer(request, customer_id, "write")
    note = actions.note_add(actor=request.auth, customer=customer, body=payload.body)
    return Status(201, {"id": note.pk, "body": note.body, "created_at": note.created_at.isoformat()})


@router.post("/{int:customer_id}/identities", response={201: dict, **ERRORS})
def add_identity(request, customer_id: int, payload: IdentityIn):
    customer = _customer(request, customer_id, "write")
    identity = actions.identity_add(
        actor=request.auth, customer=customer, kind=payload.kind, value=payload.value, source=_source(payload.source)
    )
    return Status(201, {"kind": identity.kind, "value": identity.value})


@router.get("/{int:customer_id}/consents", response={200: list[ConsentOut], **ERRORS})
def list_consents(request, customer_id: int):
    customer = _customer(request, customer_id, "read")
    return list(customer.consents.order_by("-occurred_at", "-id")[:500])


@router.post("/{int:customer_id}/consents", response={201: ConsentOut, **ERRORS})
def record_consent(request, customer_id: int, payload: ConsentIn):
    customer = _customer(request, customer_id, "write")
    return Status(201, consent.consent_record(actor=request.auth, customer=customer, **payload.dict()))


@router.get("/{int:customer_id}/duplicates", response={200: list[DuplicateOut], **ERRORS})
def list_duplicates(request, customer_id: int):
    customer = _customer(request, customer_id, "read")
    return [
        {"customer": customer_out(c), "reasons": r}
        for c, r in selectors.duplicate_candidates(actor=request.auth, customer=customer)
    ]


@router.post("/{int:customer_id}/merge", response={200: CustomerOut, **ERRORS})
def merge_customer(request, customer_id: int, payload: MergeIn):
    """Merge customer `merged_id` into this one (this one survives)."""
    survivor = _customer(request, customer_id, "write")
    merged = selectors.customer_get(actor=request.auth, customer_id=payload.merged_id)
    actions.customer_merge(actor=request.auth, survivor=survivor, merged=merged)
    return customer_out(selectors.customer_get(actor=request.auth, customer_id=customer_id))


@router.post("/{int:customer_id}/export", response={200: dict, **ERRORS})
def export_personal_data(request, customer_id: int):
    """Everything Kervan holds about the person (KVKK/GDPR subject access), as JSON. Admin-scoped keys only."""
    request.auth.require("privacy", "read")
    customer = _customer(request, customer_id, "read")
    return privacy.customer_data_export(actor=request.auth, customer=customer)


@router.post("/{int:customer_id}/anonymise", response={200: CustomerOut, **ERRORS})
def anonymise_customer(request, customer_id: int, payload: PersonalDataAnonymiseIn):
    """Erase what identifies the person, keeping their orders' amounts (customers.privacy). Admin-scoped keys only;
    a second call changes nothing."""
    request.auth.require("privacy", "write")
    customer = _customer(request, customer_id, "write")
    privacy.customer_anonymise(actor=request.auth, customer=customer, reason=payload.reason)
    return customer_out(selectors.customer_get(actor=request.auth, customer_id=customer_id))
