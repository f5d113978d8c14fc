from django.urls import path

from kervan.predictions import views

app_name = "predictions"
urlpatterns = [
    path("rfm/", views.rfm_page, name="rfm"),
    path("calibration/", views.calibration_page, name="calibration"),
]
