"""The block editor's emails: a list of blocks (header, text, image, button, product grid, coupon, footer) made into
responsive HTML that mail clients agree on (one centred 600 px table that shrinks on a phone, inline styles), as a
template source: a block's text may carry {{ customer.first_name }} and the like, rendered per recipient later."""

from html import escape

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core.errors import KervanError

KINDS = ("header", "text", "image", "button", "products", "coupon", "footer")


def editor_spec() -> dict:
    """What the block editor (static/messaging/editor.js) offers: each kind's label and fields, translated."""
    field = {
        "text": gettext_lazy("Text"),
        "logo_url": gettext_lazy("Logo address (https://…)"),
        "src": gettext_lazy("Image address (https://…)"),
        "alt": gettext_lazy("Description for screen readers"),
        "href": gettext_lazy("Link (https://…)"),
        "label": gettext_lazy("Button text"),
        "count": gettext_lazy("How many products (1-6)"),
        "prefix": gettext_lazy("Coupon prefix"),
        "unsubscribe": gettext_lazy("Unsubscribe link text"),
        "preferences": gettext_lazy("Preferences link text"),
    }
    kinds = {
        "header": (gettext_lazy("Header"), ["text", "logo_url"]),
        "text": (gettext_lazy("Text"), ["text"]),
        "image": (gettext_lazy("Image"), ["src", "alt", "href"]),
        "button": (gettext_lazy("Button"), ["label", "href"]),
        "products": (gettext_lazy("Product grid"), ["count"]),
        "coupon": (gettext_lazy("Coupon"), ["prefix", "text"]),
        "footer": (gettext_lazy("Footer"), ["text", "unsubscribe", "preferences"]),
    }
    return {
        "kinds": [
            {"kind": k, "label": str(label), "fields": [{"name": f, "label": str(field[f])} for f in fields]}
            for k, (label, fields) in kinds.items()
        ],
        "add": str(gettext_lazy("Add a block")),
        "up": str(gettext_lazy("Move up")),
        "down": str(gettext_lazy("Move down")),
        "remove": str(gettext_lazy("Remove")),
    }


MAX_BLOCKS = 60
FONT = "font-family:Arial,Helvetica,sans-serif"


def _text(value: object) -> str:
    """A block's text as HTML: <, > and & escaped (so no markup sneaks in) but template tags kept as written."""
    return escape(str(value or ""), quote=False)


def _url(value: object) -> str:
    url = str(value or "").strip()
    if url and not url.startswith(("https://", "http://", "mailto:", "{{")):
        raise KervanError(_("A link must start with https://, http:// or mailto:."), "invalid_url", field="blocks")
    return escape(url)


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        f'<p style="margin:0 0 12px;{FONT};font-size:16px;line-height:1.5;color:#222">'
        f"{_text(p).replace(chr(10), '<br>')}</p>"
        for p in parts
    )


def _block(block: dict, *, accent: str) -> str:
    kind = block.get("type")
    if kind == "header":
        logo = block.get("logo_url")
        inner = (
            f'<img src="{_url(logo)}" alt="{escape(str(block.get("text") or ""))}" width="160" style="max-width:160px">'
            if logo
            else f'<h1 style="margin:0;{FONT};font-size:24px;color:#222">{_text(block.get("text"))}</h1>'
        )
        return f'<tr><td style="padding:24px 24px 8px;text-align:center">{inner}</td></tr>'
    if kind == "text":
        return f'<tr><td style="padding:8px 24px">{_paragraphs(str(block.get("text") or ""))}</td></tr>'
    if kind == "image":
        image = f'<img src="{_url(block.get("src"))}" alt="{escape(str(block.get("alt") or ""))}" width="552" '
        image += 'style="width:100%;max-width:552px;height:auto;display:block">'
        if block.get("href"):
            image = f'<a href="{_url(block.get("href"))}">{image}</a>'
        return f'<tr><td style="padding:8px 24px">{image}</td></tr>'
    if kind == "button":
        return (
            '<tr><td style="padding:16px 24px;text-align:center">'
            f'<a href="{_url(block.get("href"))}" style="display:inline-block;padding:12px 28px;background:{accent};'
            f'color:#fff;text-decoration:none;border-radius:4px;{FONT};font-size:16px">{_text(block.get("label"))}</a>'
            "</td></tr>"
        )
    if kind == "products":
        count = min(max(int(block.get("count") or 3), 1), 6)
        return (
            '<tr><td style="padding:8px 24px"><table role="presentation" width="100%"><tr>'
            f"{{% for product in products[:{count}] %}}"
            f'<td style="padding:4px;{FONT};font-size:14px;text-align:center;vertical-align:top">'
            "<strong>{{ product.title }}</strong><br>{{ product.brand }}</td>"
            "{% endfor %}</tr></table></td></tr>"
        )
    if kind == "coupon":
        prefix = "".join(ch for ch in str(block.get("prefix") or "").upper() if ch.isalnum())[:20]
        return (
            f'<tr><td style="padding:16px 24px;text-align:center;{FONT}">'
            f'<p style="margin:0 0 8px;font-size:14px;color:#555">{_text(block.get("text"))}</p>'
            f'<p style="margin:0;font-size:22px;letter-spacing:2px;border:2px dashed {accent};padding:10px">'
            f"{{{{ coupon('{prefix}') }}}}</p></td></tr>"
        )
    if kind == "footer":
        return (
            f'<tr><td style="padding:24px;text-align:center;{FONT};font-size:12px;color:#777">'
            f"{_paragraphs(str(block.get('text') or ''))}"
            f'<a href="{{{{ unsubscribe_url }}}}" style="color:#777">{_text(block.get("unsubscribe") or "")}</a>'
            f' · <a href="{{{{ preferences_url }}}}" style="color:#777">{_text(block.get("preferences") or "")}</a>'
            "</td></tr>"
        )
    raise KervanError(_("Unknown block: %(kind)s.") % {"kind": kind}, "invalid_block", field="blocks")


def blocks_to_html(blocks: list, *, accent: str = "#1a73e8", title: str = "") -> str:
    if not isinstance(blocks, list) or not blocks:
        raise KervanError(_("Add at least one block."), "invalid_block", field="blocks")
    if len(blocks) > MAX_BLOCKS:
        raise KervanError(_("At most %(n)s blocks.") % {"n": MAX_BLOCKS}, "invalid_block", field="blocks")
    rows = "".join(_block(b if isinstance(b, dict) else {}, accent=accent) for b in blocks)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_text(title)}</title></head>"
        '<body style="margin:0;padding:0;background:#f4f4f4">'
        '<table role="presentation" width="100%" style="background:#f4f4f4"><tr><td align="center">'
        '<table role="presentation" width="600" style="width:100%;max-width:600px;background:#ffffff">'
        f"{rows}</table></td></tr></table></body></html>"
    )
