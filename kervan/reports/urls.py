from django.urls import path

from kervan.reports import views

app_name = "reports"
urlpatterns = [path("", views.analytics_page, name="analytics")]
