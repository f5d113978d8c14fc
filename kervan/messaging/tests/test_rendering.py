"""Staff-written templates render in a sandbox: personalised, with fallbacks, in the customer's language; anything that
reaches for Python internals, runs too long or grows too big fails as a whole and is never saved or sent."""

import pytest

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.messaging.actions import template_save
from kervan.messaging.rendering import CompiledTemplate, TemplateProblem, html_to_text

pytestmark = pytest.mark.django_db


def render(source: str, context: dict | None = None, *, part: str = "text", language: str = "tr", strict=False):
    compiled = CompiledTemplate({"tr": {part: source}}, strict=strict)
    return getattr(compiled.render(language, context or {}), part)


def test_personalisation_with_fallbacks_for_missing_values():
    assert render("Merhaba {{ customer.first_name }}!", {"customer": {"first_name": "Ayşe"}}) == "Merhaba Ayşe!"
    assert render("Merhaba {{ customer.first_name | default('dostum', true) }}!", {"customer": {}}) == "Merhaba dostum!"
    # a value missing deep down renders empty rather than failing the whole campaign
    assert render("[{{ last_order.lines[0].title }}]", {"last_order": None}) == "[]"


def test_the_customers_language_is_chosen_and_turkish_is_the_fallback():
    compiled = CompiledTemplate({"tr": {"text": "Merhaba"}, "en": {"text": "Hello"}})
    assert compiled.render("en", {}).text == "Hello"
    assert compiled.render("de", {}).text == "Merhaba"
    only_english = CompiledTemplate({"en": {"text": "Hello"}})
    assert only_english.render("tr", {}).text == "Hello"


def test_html_is_escaped_in_html_and_a_text_part_is_made_from_it():
    compiled = CompiledTemplate(
        {"tr": {"html": '<p>Merhaba {{ name }}</p><p><a href="https://x.example/a">Bak</a></p>', "subject": "S"}}
    )
    rendered = compiled.render("tr", {"name": "<script>x</script>"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert rendered.text == "Merhaba <script>x</script>\n\nBak (https://x.example/a)"
    assert html_to_text("<style>p{}</style><ul><li>bir</li><li>iki</li></ul>") == "- bir\n- iki"
    # Words either side of an inline tag stay apart; no space is invented inside one word.
    assert (
        html_to_text("<p>Kargo <b>nerede</b>?</p><p>Sipari<i>ş</i> 12\n  geldi</p>")
        == "Kargo nerede?\n\nSipariş 12 geldi"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ customer._meta }}",
        "{{ customer['__class__'] }}",
    ],
)
def test_a_template_that_reaches_for_python_internals_is_refused_when_saved(source):
    with pytest.raises(KervanError) as refused:
        template_save(
            actor=Actor.system(), name="x", channel="email", purpose="marketing", content={"tr": {"text": source}}
        )
    assert refused.value.code == "template_invalid"


def test_the_sandbox_refuses_internals_reached_at_render_time():
    with pytest.raises(TemplateProblem):
        render("{{ f.__globals__ }}", {"f": render})
    with pytest.raises(TemplateProblem):
        render("{% set g = f|attr('__globals__') %}{{ g }}", {"f": render})


def test_a_template_that_runs_too_long_or_grows_too_big_fails_whole():
    with pytest.raises(TemplateProblem, match="at most"):
        render("{% for i in range(10000000) %}x{% endfor %}")
    with pytest.raises(TemplateProblem, match="longer than"):
        render("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    with pytest.raises(TemplateProblem, match="too long"):
        render("{{ 'x' * 100000000 }}")
    with pytest.raises(TemplateProblem, match="too long"):
        render("{% for i in range(9000) %}{{ 'abcdefghij' * 9 }}{% endfor %}")


def test_a_syntax_error_names_the_part_language_and_line():
    with pytest.raises(KervanError) as refused:
        template_save(
            actor=Actor.system(),
            name="x",
            channel="email",
            purpose="marketing",
            content={"en": {"subject": "Hi", "html": "<p>ok</p>\n<p>{% if %}</p>"}},
        )
    assert "html (en), line 2" in refused.value.detail


def test_strict_mode_refuses_an_unknown_variable():
    with pytest.raises(TemplateProblem, match="nickname"):
        render("{{ customer.nickname }}", {"customer": {}}, strict=True)
    assert render("{{ customer.nickname }}", {"customer": {}}) == ""


def test_an_empty_template_is_refused():
    with pytest.raises(KervanError) as refused:
        template_save(actor=Actor.system(), name="x", channel="sms", purpose="marketing", content={"tr": {}})
    assert refused.value.code == "template_invalid"


def test_a_strict_template_with_an_unknown_variable_is_refused_when_saved_and_nothing_is_saved():
    from kervan.messaging.models import Template

    content = {"tr": {"subject": "Merhaba {{ customer.frist_name }}", "text": "x"}}
    with pytest.raises(KervanError) as refused:
        template_save(
            actor=Actor.system(), name="x", channel="email", purpose="marketing", content=content, strict=True
        )
    assert "frist_name" in refused.value.detail and not Template.objects.exists()
    known = {"tr": {"subject": "{{ customer.first_name }} {{ last_order.lines[0].title }} {{ coupon('A') }}"}}
    template_save(actor=Actor.system(), name="ok", channel="email", purpose="marketing", content=known, strict=True)
    # not strict: the typo renders empty, as a marketer who did not ask for strictness expects
    template_save(actor=Actor.system(), name="lenient", channel="email", purpose="marketing", content=content)
    assert Template.objects.count() == 2
