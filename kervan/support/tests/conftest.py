import pytest

from kervan.accounts.actors import Actor
from kervan.support import actions


@pytest.fixture
def editor():
    return Actor.system()


@pytest.fixture
def kb(db, editor):
    """A small help centre: three categories, the articles the Turkish search examples look for, an English text
    for some, and one draft."""
    shipping = actions.category_save(actor=editor, name_tr="Kargo ve teslimat", name_en="Shipping", slug="kargo")
    returns = actions.category_save(actor=editor, name_tr="İade ve değişim", name_en="Returns", slug="iade")
    products = actions.category_save(actor=editor, name_tr="Ürünler", name_en="Products", slug="urunler")

    def article(slug, category, tr, en=None, *, publish=True):
        texts = {"tr": {"title": tr[0], "body": tr[1]}}
        if en:
            texts["en"] = {"title": en[0], "body": en[1]}
        made = actions.article_save(actor=editor, category_id=category.pk, slug=slug, texts=texts)
        if publish:
            actions.article_publish(actor=editor, article=made)
        return made

    articles = {
        "returns": article(
            "iadeler-ve-degisim",
            returns,
            ("İadeler ve değişim", "Ürünü teslim aldıktan sonra **14 gün** içinde geri gönderebilirsiniz."),
            ("Returns and exchanges", "You can send a product back within **14 days** of delivery."),
        ),
        "tracking": article(
            "kargo-takibi",
            shipping,
            ("Kargo takibi: siparişim nerede?", "Takip numaranız sipariş onay e-postasında yazar."),
            ("Tracking: where is my order?", "Your tracking number is in the order confirmation email."),
        ),
        "delivery": article(
            "teslimat-sureleri", shipping, ("Teslimat süreleri", "Siparişler 1-3 iş gününde teslim edilir.")
        ),
        "lamp": article(
            "lamba-isik-rengi",
            products,
            ("Lambanın ışık rengi", "Sıcak beyaz ışık 2700 K, gün ışığı 6500 K."),
            ("The lamp's light colour", "Warm white light is 2700 K, daylight 6500 K."),
        ),
        "payment": article(
            "odeme-yontemleri", products, ("Ödeme yöntemleri", "Kredi kartı ve havale ile ödeyebilirsiniz.")
        ),
        "draft": article(
            "gizli-kampanya",
            products,
            ("Gizli kampanya iadeleri", "Bu taslak henüz yayında değil; kargo ve iade bilgisi içerir."),
            ("Secret sale returns", "Not published yet."),
            publish=False,
        ),
    }
    return {"categories": {"shipping": shipping, "returns": returns, "products": products}, **articles}


# ---------------------------------------------------------------- tickets

MONDAY_10 = "2026-12-07T10:00:00+03:00"  # a working Monday morning in Istanbul


@pytest.fixture
def monday(clock):
    """The clock frozen on Monday 7 December 2026, 10:00 in Istanbul (business hours)."""
    import datetime as dt

    with clock.frozen(dt.datetime.fromisoformat(MONDAY_10)):
        yield clock


@pytest.fixture
def make_agent(make_user):
    """A Support user, with an agent presence when `presence` is given."""

    def make(username: str, presence: str | None = None, role: str = "support"):
        from kervan.support.models import AgentPresence

        user = make_user(role, username)
        if presence:
            AgentPresence.objects.create(user=user, status=presence)
        return user

    return make
