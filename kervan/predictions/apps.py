from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PredictionsConfig(AppConfig):
    name = "kervan.predictions"
    label = "predictions"

    def ready(self) -> None:
        import datetime as dt

        from kervan.accounts.permissions import READ, register_area
        from kervan.core.schedule import register_schedule
        from kervan.customers.registry import Card, register_card
        from kervan.predictions import cards
        from kervan.predictions.tasks import predictions_calibrate_task, predictions_refresh_task
        from kervan.workspace.nav import NavItem, register_nav

        register_area("analytics", _("Analytics"), marketing=READ, sales=READ, analyst=READ)
        register_nav(NavItem("analytics", _("Analytics"), "reports:analytics", area="analytics", position=50))
        register_card(
            Card(name="predictions", template="predictions/_360_card.html", area="analytics", context=cards.card_360)
        )
        cards.register_today()
        from kervan.customers.registry import register_privacy
        from kervan.predictions import privacy

        register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
        # Refit and rescore every customer each night (after the 04:00 stats check).
        register_schedule(
            "predictions_refresh", predictions_refresh_task, every=dt.timedelta(days=1), at=dt.time(4, 30)
        )
        # The calibration/holdout report (kervan.predictions.calibration): a pass over every order, each night.
        register_schedule(
            "predictions_calibrate", predictions_calibrate_task, every=dt.timedelta(days=1), at=dt.time(5, 15)
        )
