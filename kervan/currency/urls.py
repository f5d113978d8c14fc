from django.urls import path

from kervan.currency import views

app_name = "currency"
urlpatterns = [path("", views.rate_list, name="rates")]
