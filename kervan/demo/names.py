"""Turkish names, surnames, cities and email domains for the demo shop, each with a rough popularity weight.

Weights are relative; the most common names come first and get the largest weight (a gentle Zipf curve),
so a few names repeat often and most are rare, as in a real customer list.
"""

# fmt: off
FEMALE_NAMES = (
    "Zeynep", "Elif", "Ayşe", "Fatma", "Emine", "Hatice", "Merve", "Esra", "Büşra", "Özlem",
    "Sultan", "Zehra", "Hülya", "Gül", "Elif Nur", "Ebru", "Derya", "Seda", "Tuğba", "Gamze",
    "Songül", "Yasemin", "Sibel", "Dilek", "Aslı", "Melek", "Selin", "Ecrin", "Eylül", "Defne",
    "Asel", "Azra", "Nehir", "Duru", "Ela", "Ceren", "İrem", "Gizem", "Pınar", "Burcu",
    "Nur", "Leyla", "Meltem", "Şeyma", "Rabia", "Kübra", "Hacer", "Hanife", "Cansu", "Damla",
    "Sevgi", "Sevim", "Filiz", "Nurcan", "Gülsüm", "Yıldız", "Özge", "Şule", "Dilara", "Buse",
    "Beyza", "Hande", "İlayda", "Cemile", "Nazlı", "Serap", "Aylin", "Banu", "Gönül", "Çiğdem",
    "Tülay", "Nilüfer", "Şebnem", "Ayten", "Gülşen", "Öykü", "Ilgın", "Işıl", "Ümran", "Züleyha",
)

MALE_NAMES = (
    "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "İbrahim", "İsmail", "Osman", "Yusuf",
    "Murat", "Ömer", "Ramazan", "Halil", "Süleyman", "Abdullah", "Mahmut", "Recep", "Salih", "Fatih",
    "Kadir", "Emre", "Hakan", "Burak", "Serkan", "Yasin", "Onur", "Gökhan", "Uğur", "Kemal",
    "Eymen", "Aras", "Alparslan", "Miraç", "Yiğit", "Çınar", "Kerem", "Emir", "Berat", "Ömer Asaf",
    "Enes", "Furkan", "Oğuz", "Barış", "Cem", "Can", "Deniz", "Erkan", "Erdem", "Tolga",
    "Volkan", "Sinan", "Tuncay", "Levent", "Bülent", "Cengiz", "Şahin", "Selim", "Sercan", "Batuhan",
    "Arda", "Doğan", "Ferhat", "Gürkan", "Harun", "Ilgaz", "Işık", "Koray", "Metin", "Nihat",
    "Okan", "Özgür", "Rıza", "Şükrü", "Taner", "Tarık", "Ufuk", "Ümit", "Yunus", "Zafer",
)

SURNAMES = (
    "Yılmaz", "Kaya", "Demir", "Çelik", "Şahin", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
    "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek",
    "Polat", "Özcan", "Korkmaz", "Çakır", "Erdoğan", "Yavuz", "Can", "Acar", "Şen", "Aktaş",
    "Güler", "Yalçın", "Güneş", "Bozkurt", "Bulut", "Keskin", "Ünal", "Turan", "Gül", "Özer",
    "Işık", "Kaplan", "Avcı", "Sarı", "Tekin", "Taş", "Köse", "Yüksel", "Ateş", "Aksoy",
    "Çiftçi", "Kaçar", "Uçar", "Tunç", "Karakaya", "Sönmez", "Altın", "Erdem", "Ay", "Tuncer",
    "Karataş", "Akgül", "Bayram", "Coşkun", "Özgür", "Güven", "Bilgin", "Türk", "Önal", "Eren",
    "Duman", "Uysal", "Akın", "Kocabaş", "Çalışkan", "Gündoğdu", "Karaca", "Oral", "Şener", "Akbulut",
    "Toprak", "Gök", "Ekinci", "Tan", "Başaran", "Dağ", "Uzun", "Durmaz", "Çınar", "Ergün",
    "Aydoğan", "Kahraman", "Metin", "Er", "Güneri", "Akyüz", "Sezer", "Demirci", "Kandemir", "Oğuz",
    "Kalkan", "Yurt", "Ağca", "Bozdağ", "Sevim", "Erol", "Dinç", "Öz", "Uslu", "Karadağ",
    "Şahan", "Soylu", "Tatlı", "Yaman", "Kartal", "Cömert", "Ilgaz", "Pekmez", "Savaş", "Baysal",
    "Gümüş", "Kıran", "Öcal", "Ülker", "Ustaoğlu", "Yazıcı", "Zengin", "Çağlar", "Dündar", "Ergin",
    "Güçlü", "Hoşgör", "İnce", "Işıkay", "Kırmızı", "Mutlu", "Nalbant", "Orhan", "Pehlivan", "Sağlam",
    "Tosun", "Ulusoy", "Vural", "Yağcı", "Zorlu", "Çoban", "Ördek", "Üstün", "Şeker", "Ünlü",
)

# (city, population in thousands, TÜİK 2023, rounded). Online orders follow population closely, with a
# small lift for the three largest metropolitan areas applied in the generator.
CITIES = (
    ("İstanbul", 15655), ("Ankara", 5803), ("İzmir", 4479), ("Bursa", 3214), ("Antalya", 2696),
    ("Konya", 2320), ("Adana", 2270), ("Şanlıurfa", 2213), ("Gaziantep", 2164), ("Kocaeli", 2102),
    ("Mersin", 1916), ("Diyarbakır", 1818), ("Hatay", 1544), ("Manisa", 1475), ("Kayseri", 1445),
    ("Samsun", 1377), ("Balıkesir", 1273), ("Tekirdağ", 1167), ("Aydın", 1161), ("Van", 1127),
    ("Kahramanmaraş", 1116), ("Sakarya", 1098), ("Muğla", 1066), ("Denizli", 1059), ("Eskişehir", 907),
    ("Mardin", 888), ("Trabzon", 822), ("Ordu", 763), ("Erzurum", 749), ("Afyonkarahisar", 747),
    ("Malatya", 742), ("Sivas", 634), ("Batman", 634), ("Tokat", 596), ("Elazığ", 591),
    ("Zonguldak", 588), ("Kütahya", 580), ("Çanakkale", 559), ("Çorum", 524), ("Giresun", 448),
    ("Isparta", 445), ("Aksaray", 433), ("Edirne", 414), ("Düzce", 409), ("Uşak", 375),
    ("Kırklareli", 369), ("Rize", 344), ("Bolu", 320), ("Nevşehir", 310), ("Yalova", 296),
)
# fmt: on
METRO_LIFT = {"İstanbul": 1.25, "Ankara": 1.15, "İzmir": 1.15}

# fmt: off
EMAIL_DOMAINS = (
    ("gmail.com", 60), ("hotmail.com", 20), ("outlook.com", 7), ("yandex.com", 5), ("icloud.com", 5),
    ("yahoo.com", 3),
)
# fmt: on


def zipf_weights(count: int, exponent: float = 0.7) -> list[float]:
    """Popularity weights for an ordered list: rank 1 is the most common."""
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]
