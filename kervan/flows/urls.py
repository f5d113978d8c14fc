from django.urls import path

from kervan.flows import views

app_name = "flows"

urlpatterns = [
    path("", views.flow_list, name="list"),
    path("new/", views.flow_new, name="new"),
    path("library/<slug:key>/", views.flow_from_library, name="library_start"),
    path("<int:flow_id>/", views.flow_detail, name="detail"),
    path("<int:flow_id>/settings/", views.flow_save, name="save"),
    path("<int:flow_id>/publish/", views.flow_publish, name="publish"),
    path("<int:flow_id>/status/<str:status>/", views.flow_status, name="status"),
    path("<int:flow_id>/report/", views.flow_report, name="report"),
    path("<int:flow_id>/steps/new/", views.step_new, name="step_new"),
    path("<int:flow_id>/steps/<str:step_id>/", views.step_edit, name="step_edit"),
    path("<int:flow_id>/steps/<str:step_id>/delete/", views.step_delete, name="step_delete"),
    path("<int:flow_id>/steps/<str:step_id>/move/<str:direction>/", views.step_move, name="step_move"),
]
