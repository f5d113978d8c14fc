"""Dated exchange rates: how many units of the Turkish lira one unit of a currency was worth on a day.

Rates are kept against TRY because that is what the Central Bank of the Republic of Türkiye (TCMB) publishes; any
reporting currency converts through them (kervan.currency.selectors.convert)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExchangeRate(models.Model):
    class Source(models.TextChoices):
        TCMB = "tcmb", _("Central Bank of the Republic of Türkiye")
        MANUAL = "manual", _("Entered by hand")

    currency = models.CharField(max_length=3)
    on = models.DateField()  # the day the rate was published for
    try_per_unit = models.DecimalField(max_digits=18, decimal_places=8)  # TRY for one unit of `currency`
    source = models.CharField(max_length=10, choices=Source.choices)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["currency", "on"], name="rate_currency_day_unique")]
        ordering = ["-on", "currency"]

    def __str__(self) -> str:
        return f"{self.currency} {self.on}: {self.try_per_unit} TRY"
