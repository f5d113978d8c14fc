from django.urls import path

from kervan.orders import views

app_name = "orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("export.csv", views.order_export, name="export"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/status/", views.order_status, name="status"),
    path("<int:order_id>/return/", views.order_return, name="return"),
    path("<int:order_id>/refund/", views.order_refund, name="refund"),
]
