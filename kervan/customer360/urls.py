from django.urls import path

from kervan.customer360 import views

app_name = "customer360"
urlpatterns = [
    path("<int:customer_id>/", views.customer_detail, name="detail"),
]
