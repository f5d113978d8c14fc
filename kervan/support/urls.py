from django.urls import path

from kervan.support import ticket_views, views

app_name = "support"

urlpatterns = [
    path("tickets/", ticket_views.ticket_list, name="ticket_list"),
    path("tickets/new/", ticket_views.ticket_new, name="ticket_new"),
    path("tickets/presence/", ticket_views.presence, name="presence"),
    path("tickets/<int:ticket_id>/", ticket_views.ticket_detail, name="ticket_detail"),
    path("kb/", views.kb_list, name="kb_list"),
    path("kb/new/", views.kb_new, name="kb_new"),
    path("kb/categories/", views.kb_categories, name="kb_categories"),
    path("kb/searches/", views.kb_searches, name="kb_searches"),
    path("kb/<int:article_id>/", views.kb_edit, name="kb_edit"),
]
