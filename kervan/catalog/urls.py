from django.urls import path

from kervan.catalog import views

app_name = "catalog"
urlpatterns = [
    path("products/", views.product_list, name="products"),
    path("products/export.csv", views.product_export, name="products_export"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
]
