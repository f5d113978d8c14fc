"""A small, safe Markdown subset for article bodies: every character of the source is HTML-escaped first, then a
few constructs become tags — headings (#, ##, ###), paragraphs, bullet (- or *) and numbered (1.) lists, **bold**,
*italic*, `code` and [links](https://…). Links keep only http(s), mailto and site-relative addresses (not //host/),
so no `javascript:` or `data:` survives; raw HTML in the source is shown as text. No third-party sanitiser is
needed because nothing the author typed is ever passed through unescaped."""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d{1,3}[.)]\s+(.*)$")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)(.+?)(?<=\S)\*(?![*\w])")
# Matched on the escaped text: the address may not hold quotes (escaped to &quot;/&#x27;) or spaces.
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:|/(?!/))[^\s()&\"'<>]*(?:&amp;[^\s()&\"'<>]*)*)\)")


def _inline(text: str) -> str:
    """Escape one line, then apply the inline constructs to the escaped text (so they cannot reopen a tag)."""
    out = escape(text)
    codes: list[str] = []

    def keep_code(match: re.Match) -> str:
        codes.append(match.group(1))
        return f"\x00{len(codes) - 1}\x00"

    out = _CODE.sub(keep_code, out)  # code spans are literal: no bold or links inside
    out = _LINK.sub(lambda m: f'<a href="{m.group(2)}" rel="nofollow noopener">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{codes[int(m.group(1))]}</code>", out)


def render(source: str) -> SafeString:
    """The body as HTML, safe to put on a page as it is."""
    source = (source or "").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def close_paragraph() -> None:
        if paragraph:
            blocks.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if items:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
        list_tag = ""

    for raw in source.split("\n"):
        line = raw.strip()
        if not line:
            close_paragraph()
            close_list()
            continue
        if heading := _HEADING.match(line):
            close_paragraph()
            close_list()
            level = len(heading.group(1)) + 1  # the article's title is the page's h1
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            continue
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        if bullet or numbered:
            close_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag and list_tag != tag:
                close_list()
            list_tag = tag
            items.append((bullet or numbered).group(1))
            continue
        close_list()
        paragraph.append(line)
    close_paragraph()
    close_list()
    return mark_safe("\n".join(blocks))  # noqa: S308 - every piece went through escape() in _inline


def plain(source: str) -> str:
    """The body's words without Markdown marks: what the search index and the excerpts read."""
    text = re.sub(r"\[([^\]\n]+)\]\([^)\s]*\)", r"\1", source or "")
    text = re.sub(r"^\s*(#{1,3}|[-*]|\d{1,3}[.)])\s+", "", text, flags=re.MULTILINE)
    return re.sub(r"[*`]+", "", text).replace("\x00", "")
