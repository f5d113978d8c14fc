from django.urls import path

from kervan.segments import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("row/", views.builder_row, name="row"),
    path("row/remove/", views.builder_row_remove, name="row_remove"),
    path("count/", views.builder_count, name="count"),
    path("why/", views.builder_why, name="why"),
    path("<int:segment_id>/", views.segment_detail, name="detail"),
    path("<int:segment_id>/rebuild/", views.segment_rebuild, name="rebuild"),
    path("<int:segment_id>/upload/", views.segment_upload, name="upload"),
    path("<int:segment_id>/delete/", views.segment_delete, name="delete"),
]
