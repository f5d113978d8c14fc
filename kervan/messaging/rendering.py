"""Staff-written templates, rendered safely: Jinja2's SandboxedEnvironment (no reaching for Python internals), a time
limit and an output size limit, so a template can neither run code nor hold a worker nor fill its memory.

    compiled = compile_template(template)          # once per batch: parse, and learn which variables it reads
    rendered = compiled.render(language, context)  # per message

A template fails as a whole with TemplateProblem (a syntax error with its line, a forbidden attribute, a missing
variable in strict mode, too slow, too big) and is never sent half-rendered. Missing values render empty unless
the template gives a fallback: {{ customer.first_name | default("there") }}.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import css_inline
from django.utils.translation import gettext as _
from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

TIME_LIMIT_S = 0.5
OUTPUT_LIMIT = 512 * 1024  # characters: far beyond any real email (Gmail clips at 102 KB)
RANGE_LIMIT = 10_000
LANGUAGES = ("tr", "en")
PARTS = ("subject", "html", "text")


class TemplateProblem(Exception):
    """Why a template cannot render, in words for the person who wrote it."""


class _Budget:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + TIME_LIMIT_S

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateProblem(
                _("The template took longer than %(seconds)s s to render.") % {"seconds": TIME_LIMIT_S}
            )


class _Environment(SandboxedEnvironment):
    """The sandbox, plus a clock: every call, attribute read and loop step checks the render's deadline, and
    multiplying a string or list into something huge is refused before it is built."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.budget = _Budget()
        self.globals["range"] = self._range

    def _range(self, *args: int) -> Iterator[int]:
        numbers = range(*args)
        if len(numbers) > RANGE_LIMIT:
            raise TemplateProblem(_("A loop may run at most %(limit)s times.") % {"limit": RANGE_LIMIT})
        for n in numbers:
            self.budget.check()
            yield n

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.check()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.check()
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The sandbox would render a forbidden lookup as empty; a template that tries one fails instead, so it is
        # seen and fixed rather than sent.
        raise TemplateProblem(_("Templates may not read %(name)s.") % {"name": attribute})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise TemplateProblem(_("A number in the template is too large."))
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > OUTPUT_LIMIT:
                    raise TemplateProblem(_("The message would be too long."))
        return super().call_binop(context, operator, left, right)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    language: str


class CompiledTemplate:
    """A template's parts parsed once, per language. `reads` is the top-level variables the template uses, so the
    sender loads only what it needs (a template that never mentions the last order does not query orders)."""

    def __init__(self, content: dict, *, strict: bool = False) -> None:
        self.strict = strict
        self.env = _Environment(undefined=StrictUndefined if strict else ChainableUndefined, autoescape=False)
        self.html_env = _Environment(undefined=self.env.undefined, autoescape=True)
        self.parts: dict[str, dict[str, Any]] = {}
        reads: set[str] = set()
        for language in LANGUAGES:
            part = content.get(language) or {}
            if not any(part.get(name) for name in PARTS):
                continue
            compiled = {}
            for name in PARTS:
                source = part.get(name) or ""
                env = self.html_env if name == "html" else self.env
                try:
                    tree = env.parse(source)
                    reads |= meta.find_undeclared_variables(tree)
                    _refuse_private(tree)
                    compiled[name] = env.from_string(source)
                except TemplateSyntaxError as exc:
                    raise TemplateProblem(
                        _("%(part)s (%(language)s), line %(line)s: %(error)s")
                        % {"part": name, "language": language, "line": exc.lineno, "error": exc.message}
                    ) from exc
            self.parts[language] = compiled
        if not self.parts:
            raise TemplateProblem(_("The template has no content."))
        self.reads = frozenset(reads)

    def language_for(self, wanted: str) -> str:
        """The customer's language when the template has it, else Turkish, else whatever it has."""
        for language in (wanted, "tr", *self.parts):
            if language in self.parts:
                return language
        raise AssertionError("unreachable: a compiled template has at least one language")

    def render(self, wanted_language: str, context: dict[str, Any], *, inline_css: bool = True) -> Rendered:
        language = self.language_for(wanted_language)
        compiled = self.parts[language]
        out = {}
        for name in PARTS:
            env = self.html_env if name == "html" else self.env
            env.budget = _Budget()
            out[name] = _render_limited(compiled[name], context)
        html = out["html"]
        if html and inline_css:
            html = css_inline.inline(html)
        text = out["text"] or (html_to_text(out["html"]) if out["html"] else "")
        return Rendered(subject=" ".join(out["subject"].split()), html=html, text=text, language=language)


def compile_template(template: Any) -> CompiledTemplate:
    return CompiledTemplate(template.content, strict=getattr(template, "strict", False))


def _render_limited(template: Any, context: dict[str, Any]) -> str:
    size = 0
    chunks = []
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > OUTPUT_LIMIT:
                raise TemplateProblem(_("The message would be too long."))
            chunks.append(chunk)
    except SecurityError as exc:
        raise TemplateProblem(_("The template uses something templates may not: %(error)s") % {"error": exc}) from exc
    except TemplateError as exc:  # an undefined variable in strict mode, a filter given the wrong thing
        raise TemplateProblem(str(exc.message or exc)) from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(_("The template failed: %(error)s") % {"error": exc}) from exc
    return "".join(chunks)


def _refuse_private(tree: nodes.Template) -> None:
    """Refuse `_x` and `__class__` lookups when the template is saved, not only when a message renders (the sandbox
    refuses them at render time too)."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateProblem(_("Templates may not read %(name)s.") % {"name": name})


class _TextMaker(HTMLParser):
    """The plain-text part of an HTML email: paragraphs as blank lines, links as "text (url)", no scripts/styles."""

    BLOCKS = frozenset({"p", "div", "tr", "table", "h1", "h2", "h3", "h4", "ul", "ol", "section", "header", "footer"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in self.BLOCKS:
            self.out.append("\n\n")
        elif tag == "a":
            self.href.append(dict(attrs).get("href") or "")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.out.append("\n\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href.startswith(("http://", "https://")):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        # Collapse runs of white space but keep one at either end: "Kargo <b>nerede</b>" is two words, not one.
        text = " ".join(data.split())
        self.out.append((" " if data[0].isspace() else "") + text + (" " if text and data[-1].isspace() else ""))


def html_to_text(html: str) -> str:
    maker = _TextMaker()
    maker.feed(html)
    maker.close()
    lines = [" ".join(line.split()) for line in "".join(maker.out).split("\n")]
    text, blank = [], False
    for line in lines:
        if line:
            text.append(line)
            blank = False
        elif not blank and text:
            text.append("")
            blank = True
    return "\n".join(text).strip()
