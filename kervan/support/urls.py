from django.urls import path

from kervan.support import views

app_name = "support"

urlpatterns = [
    path("kb/", views.kb_list, name="kb_list"),
    path("kb/new/", views.kb_new, name="kb_new"),
    path("kb/categories/", views.kb_categories, name="kb_categories"),
    path("kb/searches/", views.kb_searches, name="kb_searches"),
    path("kb/<int:article_id>/", views.kb_edit, name="kb_edit"),
]
