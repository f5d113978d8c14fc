"""The demo shop's catalogue: 8 categories, 25 products each, 1–4 variants per product, Turkish titles.

Prices are shelf prices in kuruş with 20% KDV included, as Turkish shops show them. Everything here is
drawn from a Random seeded by the caller, so the same seed always gives the same catalogue.
"""

import math
import random
from dataclasses import dataclass, field

# fmt: off
# slug, name, SKU code, brands, (item, lowest price ₺, highest price ₺), variant axes
CATEGORIES = (
    ("giyim", "Giyim", "GYM",
     ("Lale Moda", "Anadolu Denim", "Ege Tekstil", "Kervan Basic", "Boğaziçi Wear"),
     (("Basic Tişört", 199, 449), ("Oversize Sweatshirt", 499, 999), ("Slim Fit Kot Pantolon", 699, 1499),
      ("Keten Gömlek", 549, 1199), ("Triko Kazak", 599, 1299), ("Şişme Mont", 1499, 3999),
      ("Midi Elbise", 699, 1799), ("Kapüşonlu Hırka", 599, 1299), ("Kargo Pantolon", 649, 1299),
      ("Polo Yaka Tişört", 349, 799), ("Trençkot", 1999, 4499), ("Eşofman Takımı", 799, 1799))),
    ("ayakkabi", "Ayakkabı", "AYK",
     ("Adım", "Patika", "Kervan Step", "Yürü", "Deri Usta"),
     (("Günlük Sneaker", 899, 2499), ("Deri Bot", 1799, 4499), ("Koşu Ayakkabısı", 1299, 3999),
      ("Babet", 499, 1299), ("Topuklu Ayakkabı", 899, 2499), ("Ev Terliği", 149, 399),
      ("Klasik Oxford", 1499, 3499), ("Sandalet", 399, 1199), ("Çocuk Spor Ayakkabı", 599, 1499))),
    ("elektronik", "Elektronik", "ELK",
     ("Teknova", "Sesli", "Voltaj", "Piksel", "Kervan Tech"),
     (("Kablosuz Kulaklık", 699, 4999), ("Akıllı Saat", 1999, 12999), ("Bluetooth Hoparlör", 899, 5999),
      ("Powerbank 20000 mAh", 599, 1499), ("Akıllı Telefon", 14999, 64999), ("Tablet", 7999, 29999),
      ("Hızlı Şarj Adaptörü", 299, 899), ("Oyuncu Mouse", 499, 2499), ("Mekanik Klavye", 1299, 4999),
      ("Robot Süpürge", 6999, 24999), ("Kahve Makinesi", 2499, 14999), ("Saç Kurutma Makinesi", 799, 3999))),
    ("ev-yasam", "Ev & Yaşam", "EVY",
     ("Yuvam", "Konak Home", "Çini Atölye", "Kervan Home", "Lavanta"),
     (("Nevresim Takımı", 799, 2499), ("Pike Takımı", 499, 1499), ("Bambu Havlu Seti", 399, 999),
      ("Porselen Yemek Takımı", 1999, 7999), ("Çelik Tencere Seti", 1999, 6999), ("Dekoratif Yastık", 149, 449),
      ("Türk Kahvesi Fincan Seti", 299, 999), ("Kokulu Mum", 149, 499), ("Çay Demlik Takımı", 499, 1799),
      ("Halı Kilim", 899, 4999), ("Masa Lambası", 499, 1999), ("Saklama Kabı Seti", 199, 599))),
    ("kozmetik", "Kozmetik", "KZM",
     ("Gülce", "Nem", "Işıltı", "Doğa Bakım", "Kervan Care"),
     (("Nemlendirici Krem", 149, 799), ("Güneş Kremi SPF 50", 249, 899), ("Gül Suyu Tonik", 99, 349),
      ("Parfüm", 599, 3999), ("Şampuan", 99, 399), ("Ruj", 149, 699), ("Maskara", 199, 699),
      ("Yüz Temizleme Jeli", 149, 599), ("Saç Bakım Yağı", 199, 799), ("Zeytinyağlı Sabun", 49, 199))),
    ("spor", "Spor", "SPR",
     ("Zirve", "Kervan Fit", "Koşu", "Atlet", "Yayla Outdoor"),
     (("Yoga Matı", 299, 999), ("Dambıl Seti", 499, 2499), ("Spor Çanta", 399, 1499),
      ("Termos Matara", 299, 999), ("Kamp Çadırı", 1999, 7999), ("Trekking Sırt Çantası", 999, 3999),
      ("Koşu Taytı", 399, 999), ("Direnç Bandı Seti", 149, 499), ("Bisiklet Kaskı", 699, 2499),
      ("Futbol Topu", 299, 1299))),
    ("kitap", "Kitap", "KTP",
     ("Ada Yayınları", "Kervan Kitap", "Pusula Yayınevi", "Çınar Yayınları", "Martı Kitap"),
     (("Roman", 99, 399), ("Polisiye Roman", 119, 349), ("Çocuk Kitabı", 79, 249), ("Yemek Kitabı", 249, 699),
      ("Tarih Kitabı", 199, 599), ("Kişisel Gelişim Kitabı", 149, 399), ("Şiir Kitabı", 89, 249),
      ("Boyama Kitabı", 59, 149))),
    ("oyuncak", "Oyuncak", "OYN",
     ("Minik", "Oyun Dünyası", "Zeka Küpü", "Kervan Kids", "Neşe"),
     (("Ahşap Yapboz", 149, 499), ("Peluş Ayı", 199, 799), ("Yapı Blokları Seti", 499, 2499),
      ("Uzaktan Kumandalı Araba", 599, 2999), ("Oyun Hamuru Seti", 99, 349), ("Kutu Oyunu", 299, 1199),
      ("Bebek", 299, 1499), ("Eğitici Tablet", 399, 1299), ("Bahçe Salıncağı", 1499, 4999))),
)

COLOURS = ("Siyah", "Beyaz", "Lacivert", "Gri", "Bej", "Kırmızı", "Yeşil", "Mavi", "Bordo", "Haki", "Pembe")
CLOTHING_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES = ("36", "37", "38", "39", "40", "41", "42", "43", "44", "45")
STORAGE = ("64 GB", "128 GB", "256 GB", "512 GB")
VOLUMES = ("30 ml", "50 ml", "100 ml", "200 ml")
BOOK_FORMATS = ("Ciltsiz", "Ciltli", "Cep Boy")
ADJECTIVES = ("Yeni Sezon", "Premium", "Klasik", "Organik", "Ekonomik", "Lüks", "Pratik", "Doğal", "Yumuşak", "Modern")
# fmt: on

PRODUCTS_PER_CATEGORY = 25


@dataclass
class VariantSpec:
    title: str
    price: int  # kuruş, KDV included
    compare_at: int | None


@dataclass
class ProductSpec:
    title: str
    brand: str
    category: int  # index into CATEGORIES
    description: str
    variants: list[VariantSpec] = field(default_factory=list)


def shelf_price(value: float) -> int:
    """A price as shops write it: ₺149,90 / ₺1.249,90 / ₺24.999,00, in kuruş."""
    if value < 1000:
        return math.ceil(value / 10) * 1000 - 10
    if value < 10000:
        return math.ceil(value / 50) * 5000 - 10
    return math.ceil(value / 500) * 50000 - 100


def _variant_titles(rng: random.Random, slug: str, item: str) -> list[str]:
    count = rng.choices((1, 2, 3, 4), weights=(30, 30, 25, 15))[0]
    if slug == "giyim":
        colours = rng.sample(COLOURS, 2)
        options = [f"{c} / {s}" for c in colours for s in CLOTHING_SIZES[1:5]]
    elif slug == "ayakkabi":
        options = [f"{rng.choice(COLOURS)} / {s}" for s in SHOE_SIZES]
    elif slug == "elektronik" and item in ("Akıllı Telefon", "Tablet"):
        options = list(STORAGE)
    elif slug == "kozmetik":
        options = list(VOLUMES)
    elif slug == "kitap":
        options = list(BOOK_FORMATS)
        count = min(count, 2)
    elif slug == "oyuncak":
        return ["Standart"]
    else:
        options = list(COLOURS)
    return sorted(rng.sample(options, min(count, len(options))), key=options.index)


def build_catalog(rng: random.Random) -> list[ProductSpec]:
    products: list[ProductSpec] = []
    for index, (slug, name, _code, brands, items) in enumerate(CATEGORIES):
        for n in range(PRODUCTS_PER_CATEGORY):
            item, low, high = items[n % len(items)]
            brand = rng.choice(brands)
            adjective = ADJECTIVES[(n // len(items) + rng.randrange(len(ADJECTIVES))) % len(ADJECTIVES)]
            title = f"{brand} {adjective} {item}"
            base = math.exp(rng.uniform(math.log(low), math.log(high)))
            spec = ProductSpec(
                title=title,
                brand=brand,
                category=index,
                description=f"{title}. {name} kategorisinde, hızlı kargo ve 14 gün içinde kolay iade.",
            )
            for v, variant_title in enumerate(_variant_titles(rng, slug, item)):
                # Bigger storage or volume costs more; sizes and colours cost the same.
                step = 1.0 + 0.35 * v if slug in ("elektronik", "kozmetik", "kitap") else 1.0
                price = shelf_price(base * step)
                compare_at = shelf_price(base * step * rng.uniform(1.15, 1.5)) if rng.random() < 0.3 else None
                spec.variants.append(VariantSpec(title=variant_title, price=price, compare_at=compare_at))
            products.append(spec)
    return products


def ean13(body12: str) -> str:
    """Complete a 12-digit body with its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)
