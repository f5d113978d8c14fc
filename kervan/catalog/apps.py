from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "kervan.catalog"
    label = "catalog"

    def ready(self) -> None:
        import datetime as dt

        from kervan.accounts.permissions import READ, WRITE, register_area
        from kervan.catalog.lists import PRODUCT_LIST, product_search, product_search_more
        from kervan.catalog.tasks import product_sales_refresh
        from kervan.core.schedule import register_schedule
        from kervan.workspace.lists import register_list
        from kervan.workspace.nav import NavItem, register_nav
        from kervan.workspace.search import SearchSource, register_search

        register_area("catalog", _("Catalog"), marketing=READ, sales=WRITE, support=READ, analyst=READ, readonly=READ)

        register_list(PRODUCT_LIST)
        register_nav(NavItem("products", _("Products"), "catalog:products", area="catalog", position=30))
        register_search(
            SearchSource(
                "products", _("Products"), "catalog", product_search, position=30, more_url=product_search_more
            )
        )
        # The product sales rollup: the last weeks counted again, and history filled, each night.
        register_schedule("product_sales_refresh", product_sales_refresh, every=dt.timedelta(days=1), at=dt.time(3, 30))
