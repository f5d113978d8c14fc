from django.urls import path

from kervan.messaging import views

app_name = "messaging"

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>/", views.click, name="click"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("p/<str:token>/", views.preferences, name="preferences"),
]
