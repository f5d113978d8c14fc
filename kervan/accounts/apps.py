from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kervan.accounts"
    label = "accounts"
