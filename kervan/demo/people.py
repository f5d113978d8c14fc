"""Demo customers: who they are (name, gender, city, age), how to reach them, and what they agreed to."""

import datetime as dt
import random
from dataclasses import dataclass

from kervan.core.emails import email_match_key
from kervan.core.text import search_fold
from kervan.demo.draw import Weighted
from kervan.demo.names import CITIES, EMAIL_DOMAINS, FEMALE_NAMES, MALE_NAMES, METRO_LIFT, SURNAMES, zipf_weights

# Mobile prefixes by operator (Turkcell 53x, Vodafone 54x, Türk Telekom 50x/55x), weighted by market share.
MOBILE_PREFIXES = (
    [(str(p), 4.0) for p in range(530, 540)]
    + [(str(p), 3.0) for p in range(541, 550)]
    + [(str(p), 1.5) for p in (501, 505, 506, 507, 551, 552, 553, 554, 555, 559)]
)
LANGUAGES = (("tr", 95), ("en", 4), ("de", 1))
# (email local-part pattern, weight); {f} first name, {l} last name, {i} initial, {y} 2-digit year, {n} a number
EMAIL_PATTERNS = (
    ("{f}.{l}", 34), ("{f}{l}", 24), ("{f}_{l}", 7), ("{f}.{l}{y}", 12), ("{f}{l}{n}", 11), ("{i}{l}", 7),
    ("{l}.{f}", 5),
)  # fmt: skip


@dataclass(slots=True)
class Person:
    first_name: str
    last_name: str
    gender: str
    city: str
    birth_date: dt.date | None
    language: str
    email: str
    phone: str


class PeopleFactory:
    """Draws people one at a time from a shared Random; emails and phones are unique across the run."""

    def __init__(self, rng: random.Random, until: dt.date):
        self.rng = rng
        self.until = until
        self.female = Weighted(zip(FEMALE_NAMES, zipf_weights(len(FEMALE_NAMES))))  # noqa: B905
        self.male = Weighted(zip(MALE_NAMES, zipf_weights(len(MALE_NAMES))))  # noqa: B905
        self.surnames = Weighted(zip(SURNAMES, zipf_weights(len(SURNAMES), 0.6)))  # noqa: B905
        self.cities = Weighted((c, p * METRO_LIFT.get(c, 1.0)) for c, p in CITIES)
        self.domains = Weighted(EMAIL_DOMAINS)
        self.patterns = Weighted(EMAIL_PATTERNS)
        self.prefixes = Weighted(MOBILE_PREFIXES)
        self.languages = Weighted(LANGUAGES)
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()

    def _pick(self, table: Weighted) -> str:
        return table.pick(self.rng.random)

    def person(self, *, with_email: bool, with_phone: bool) -> Person:
        rng = self.rng
        r = rng.random()
        gender = "female" if r < 0.5 else "male" if r < 0.97 else ""
        names = self.female if gender == "female" or (not gender and rng.random() < 0.5) else self.male
        first, last = self._pick(names), self._pick(self.surnames)
        birth_date = None
        if rng.random() < 0.93:
            age = min(18 + int(rng.gammavariate(2.2, 7.5)), 85)
            birth_date = dt.date(self.until.year - age, 1, 1) + dt.timedelta(days=rng.randrange(365))
        return Person(
            first_name=first,
            last_name=last,
            gender=gender,
            city=self._pick(self.cities),
            birth_date=birth_date,
            language=self._pick(self.languages),
            email=self.email(first, last, birth_date) if with_email else "",
            phone=self.phone() if with_phone else "",
        )

    def email(self, first: str, last: str, birth_date: dt.date | None) -> str:
        rng = self.rng
        f = search_fold(first).replace(" ", "")
        l = search_fold(last).replace(" ", "")  # noqa: E741
        year = f"{birth_date.year % 100:02d}" if birth_date else f"{rng.randrange(100):02d}"
        local = self._pick(self.patterns).format(f=f, l=l, i=f[0], y=year, n=rng.randrange(1, 1000))
        domain = self._pick(self.domains)
        email = f"{local}@{domain}"
        # Unique by mailbox: ayse.kaya@gmail.com and aysekaya@gmail.com are one Gmail inbox, so one person.
        while email_match_key(email) in self.used_emails:
            email = f"{local}{rng.randrange(10, 10000)}@{domain}"
        self.used_emails.add(email_match_key(email))
        return email

    def phone(self) -> str:
        prefix = self._pick(self.prefixes)
        phone = f"+90{prefix}{self.rng.randrange(10**7):07d}"
        while phone in self.used_phones:
            phone = f"+90{prefix}{self.rng.randrange(10**7):07d}"
        self.used_phones.add(phone)
        return phone
