"""The article body's Markdown subset: what becomes a tag, and that nothing typed can become one otherwise."""

import re

from kervan.support.markup import plain, render


def test_the_subset():
    source = (
        "# Başlık\n\nBir **kalın** ve *eğik* söz, `kod` ve [bağlantı](https://ornek.com/a?b=1&c=2).\n"
        "İkinci satır.\n\n- bir\n- iki\n\n1. ilk\n2. ikinci\n\n[iç](/help/iade/) [posta](mailto:a@b.c)"
    )
    assert render(source) == (
        "<h2>Başlık</h2>\n"
        "<p>Bir <strong>kalın</strong> ve <em>eğik</em> söz, <code>kod</code> ve "
        '<a href="https://ornek.com/a?b=1&amp;c=2" rel="nofollow noopener">bağlantı</a>.<br>İkinci satır.</p>\n'
        "<ul><li>bir</li><li>iki</li></ul>\n<ol><li>ilk</li><li>ikinci</li></ol>\n"
        '<p><a href="/help/iade/" rel="nofollow noopener">iç</a> '
        '<a href="mailto:a@b.c" rel="nofollow noopener">posta</a></p>'
    )


def test_nothing_typed_becomes_markup():
    hostile = [
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '[x](https://a.b/" onmouseover="alert(1))',
        "[x](//evil.example/)",
        "`<img src=x onerror=alert(1)>`",
        "**<svg onload=alert(1)>**",
        "# <iframe src=//evil>",
        "- <b>x</b>",
        "\x00<script>",
    ]
    for source in hostile:
        html = str(render(source))
        assert not re.search(r"<(?!/?(p|br|h[234]|ul|ol|li|strong|em|code|a)\b)", html), (source, html)
        assert not re.search(r"\son\w+=\"", html), (source, html)  # no attribute was opened
        for href in re.findall(r'href="([^"]*)"', html):
            assert re.match(r"(https?://|mailto:|/(?!/))", href), (source, html)


def test_plain_text_for_excerpts_and_the_index():
    assert plain("# Başlık\n- **bir** [bağlantı](https://x.y)\n`kod`") == "Başlık\nbir bağlantı\nkod"
