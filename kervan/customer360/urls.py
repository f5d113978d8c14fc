from django.urls import path

from kervan.customer360 import views

app_name = "customer360"
urlpatterns = [
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/personal-data/", views.personal_data_export, name="personal_data_export"),
    path("<int:customer_id>/anonymise/", views.personal_data_anonymise, name="anonymise"),
]
