from django.contrib.auth import views as auth_views
from django.urls import path

from kervan.accounts import settings_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("two-factor/", views.two_factor_page, name="two_factor"),
    path("profile/", views.profile, name="profile"),
    path("profile/two-factor/", views.two_factor_enrol, name="two_factor_enrol"),
    path("profile/two-factor/disable/", views.two_factor_disable, name="two_factor_disable"),
    path("settings/", settings_views.settings_index, name="settings"),
    path("settings/users/", settings_views.user_list, name="users"),
    path("settings/users/new/", settings_views.user_create, name="user_create"),
    path("settings/users/<int:user_id>/", settings_views.user_detail, name="user"),
    path("settings/security/", settings_views.security, name="security"),
    path("settings/api-keys/", settings_views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", settings_views.api_key_revoke, name="api_key_revoke"),
    path("settings/audit-log/", settings_views.audit_log, name="audit_log"),
]
