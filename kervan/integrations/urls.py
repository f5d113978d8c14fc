from django.urls import path

from kervan.integrations import intake, views

app_name = "integrations"

urlpatterns = [
    path("hooks/<str:token>/", intake.webhook_receive, name="webhook"),
    path("", views.connection_list, name="list"),
    path("connect/<str:platform>/", views.connection_create_view, name="create"),
    path("<int:pk>/", views.connection_detail, name="detail"),
    path("<int:pk>/edit/", views.connection_edit, name="edit"),
    path("<int:pk>/status/", views.connection_status, name="status"),
    path("<int:pk>/backfill/", views.backfill_start_view, name="backfill_start"),
    path("<int:pk>/backfill/<int:backfill_pk>/", views.backfill_detail, name="backfill"),
    path("<int:pk>/backfill/<int:backfill_pk>/<str:action>/", views.backfill_action, name="backfill_action"),
    path("<int:pk>/deliveries/<int:delivery_pk>/", views.delivery_detail, name="delivery"),
    path("<int:pk>/deliveries/<int:delivery_pk>/replay/", views.delivery_replay_view, name="delivery_replay"),
]
