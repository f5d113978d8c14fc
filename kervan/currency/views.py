"""Settings → Exchange rates: the rates the totals are converted with, and a form to enter one."""

import datetime as dt

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from kervan.accounts.decorators import require_access
from kervan.core.errors import KervanError
from kervan.currency import actions, selectors


@require_access("settings", "read")
def rate_list(request):
    if request.method == "POST":
        try:
            actions.rate_set(
                actor=request.actor,
                currency=request.POST.get("currency", ""),
                on=dt.date.fromisoformat(request.POST.get("on", "")),
                try_per_unit=request.POST.get("try_per_unit", ""),
            )
        except ValueError:
            messages.error(request, _("The day must be a date (YYYY-MM-DD)."))
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Saved."))
        return redirect("currency:rates")
    context = {
        "rates": selectors.rates_list(actor=request.actor)[:200],
        "reporting_currency": selectors.reporting_currency(),
    }
    return render(request, "currency/rates.html", context)
