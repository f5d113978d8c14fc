from django.urls import path

from kervan.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_form, name="new"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/edit/", views.campaign_form, name="edit"),
    path("<int:campaign_id>/<str:action>/", views.campaign_action, name="action"),
]
