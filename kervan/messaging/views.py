"""Messaging pages for staff: templates (block editor, HTML, SMS with its length), preview as a customer and test send;
sender identities; the sending policy; the suppression list."""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.customers.models import Customer
from kervan.messaging import actions
from kervan.messaging.blocks import blocks_to_html, editor_spec
from kervan.messaging.channels.base import TransportError
from kervan.messaging.models import Channel, Policy, Purpose, SenderIdentity, Suppression, Template, Topic
from kervan.messaging.policy import current_policy
from kervan.messaging.rendering import LANGUAGES, TemplateProblem
from kervan.messaging.sending import render_for, send_test

LANGUAGE_NAMES = {"tr": "Türkçe", "en": "English"}


@require_access("messaging", "read")
def template_list(request):
    templates = Template.objects.all()
    return render(request, "messaging/templates.html", {"templates": templates})


@require_access("messaging", "read")
def template_edit(request, template_id: int | None = None):
    template = get_object_or_404(Template, pk=template_id) if template_id else None
    error = None
    if request.method == "POST":
        request.actor.require("messaging", "write")
        try:
            template = _save(request, template)
        except KervanError as exc:
            error = exc
        else:
            messages.success(request, _("Template saved."))
            return redirect("messaging_staff:template", template.pk)
    data = _form_data(request, template) if request.method == "POST" or template is None else _stored(template)
    return render(
        request,
        "messaging/template_edit.html",
        {
            "template": template,
            "data": data,
            "languages": [
                {"code": code, "name": LANGUAGE_NAMES[code], **(data["content"].get(code) or {})} for code in LANGUAGES
            ],
            "channels": Channel.choices,
            "purposes": Purpose.choices,
            "editors": Template.Editor.choices,
            "block_editor": editor_spec(),
            "topics": Topic.objects.all(),
            "error": error,
            "customers": Customer.objects.filter(merged_into__isnull=True).order_by("-id")[:20] if template else [],
        },
        status=400 if error else 200,
    )


def _stored(template: Template) -> dict:
    return {
        "name": template.name,
        "channel": template.channel,
        "purpose": template.purpose,
        "editor": template.editor,
        "content": template.content,
        "blocks_json": json.dumps(template.blocks or {}, ensure_ascii=False),
        "strict": template.strict,
        "topic": template.topic_id,
    }


def _form_data(request, template: Template | None) -> dict:
    post = request.POST
    content = {
        code: {part: post.get(f"{code}_{part}", "") for part in ("subject", "html", "text")} for code in LANGUAGES
    }
    return {
        "name": post.get("name", template.name if template else ""),
        "channel": post.get("channel", template.channel if template else "email"),
        "purpose": post.get("purpose", template.purpose if template else "marketing"),
        "editor": post.get("editor", template.editor if template else "blocks"),
        "content": content,
        "blocks_json": post.get("blocks_json", "{}"),
        "strict": post.get("strict") == "on",
        "topic": int(post["topic"]) if post.get("topic", "").isdigit() else None,
    }


def _save(request, template: Template | None) -> Template:
    data = _form_data(request, template)
    content = {code: {k: v for k, v in part.items() if v.strip()} for code, part in data["content"].items()}
    blocks: dict = {}
    if data["editor"] == Template.Editor.BLOCKS and data["channel"] == "email":
        try:
            blocks = json.loads(data["blocks_json"] or "{}")
        except ValueError as exc:
            raise KervanError(_("The blocks could not be read."), "invalid_block", field="blocks") from exc
        if not isinstance(blocks, dict):
            raise KervanError(_("The blocks could not be read."), "invalid_block", field="blocks")
        for code, language_blocks in blocks.items():
            if code in LANGUAGES and language_blocks:
                part = content.setdefault(code, {})
                part["html"] = blocks_to_html(language_blocks, title=part.get("subject", ""))
    content = {code: part for code, part in content.items() if part}
    return actions.template_save(
        actor=request.actor,
        name=data["name"],
        channel=data["channel"],
        purpose=data["purpose"],
        content=content,
        editor=data["editor"],
        blocks=blocks,
        strict=data["strict"],
        topic=Topic.objects.filter(pk=data["topic"]).first() if data["topic"] else None,
        template=template,
    )


@require_access("messaging", "read")
def template_preview(request, template_id: int):
    """The template as a chosen customer would get it (in their language), shown in a sandboxed frame."""
    template = get_object_or_404(Template, pk=template_id)
    customer = _customer(request.GET.get("customer"))
    context = {"template": template, "customer": customer}
    if customer is None:
        context["problem"] = _("Choose a customer to preview as.")
    else:
        try:
            context["subject"], context["html"], context["text"] = render_for(template, customer)
        except TemplateProblem as problem:
            context["problem"] = str(problem)
    return render(request, "messaging/_preview.html", context)


@require_POST
@require_access("messaging", "write")
def template_test_send(request, template_id: int):
    template = get_object_or_404(Template, pk=template_id)
    customer = _customer(request.POST.get("customer"))
    to = request.POST.get("to", "").strip()
    sender = SenderIdentity.objects.filter(channel=template.channel, is_default=True).first()
    if customer is None or not to:
        messages.error(request, _("Choose a customer to render as and an address to send to."))
    else:
        try:
            send_test(template=template, customer=customer, to=to, sender=sender)
        except (TemplateProblem, TransportError, KervanError) as exc:
            messages.error(request, _("The test was not sent: %(reason)s") % {"reason": exc})
        else:
            messages.success(request, _("Test sent to %(to)s.") % {"to": to})
    return redirect("messaging_staff:template", template.pk)


def _customer(raw: str | None) -> Customer | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    customers = Customer.objects.filter(merged_into__isnull=True)
    return customers.filter(pk=int(raw)).first() if raw.isdigit() else customers.filter(email__iexact=raw).first()


@require_access("messaging", "read")
def settings_page(request):
    """Senders, the policy and the suppression list on one page."""
    policy = current_policy()
    if request.method == "POST":
        request.actor.require("messaging", "write")
        try:
            _settings_post(request, policy)
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Saved."))
        return redirect("messaging_staff:settings")
    return render(
        request,
        "messaging/settings.html",
        {
            "senders": SenderIdentity.objects.all(),
            "policy": policy,
            "suppressions": Suppression.objects.all()[:200],
            "topics": Topic.objects.all(),
            "suppression_count": Suppression.objects.count(),
            "channels": Channel.choices,
            "reasons": [(r.value, r.label) for r in Suppression.Reason if r in (r.MANUAL, r.COMPLAINT, r.INVALID)],
        },
    )


def _settings_post(request, policy: Policy) -> None:
    post = request.POST
    what = post.get("form")
    if what == "sender":
        actions.sender_save(
            actor=request.actor,
            channel=post.get("channel", ""),
            address=post.get("address", ""),
            name=post.get("name", ""),
            reply_to=post.get("reply_to", ""),
            is_default=post.get("is_default") == "on",
        )
    elif what == "policy":
        actions.policy_update(actor=request.actor, policy=policy, values=post)
    elif what == "topic":
        actions.topic_save(actor=request.actor, name_tr=post.get("name_tr", ""), name_en=post.get("name_en", ""))
    elif what == "suppress":
        actions.suppression_add(
            actor=request.actor,
            channel=post.get("channel", ""),
            address=post.get("address", ""),
            reason=post.get("reason", "manual"),
            note=post.get("note", ""),
        )
    elif what == "lift":
        suppression = get_object_or_404(Suppression, pk=post.get("suppression"))
        actions.suppression_lift(actor=request.actor, suppression=suppression)
    else:
        raise KervanError(_("Unknown form."))
