from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kervan.accounts"
    label = "accounts"

    def ready(self) -> None:
        from kervan.accounts.permissions import register_accounts_areas

        register_accounts_areas()
