from django.urls import path

from kervan.support import chat_views, report_views, sla_views, ticket_views, tools_views, views

app_name = "support"

urlpatterns = [
    path("tickets/", ticket_views.ticket_list, name="ticket_list"),
    path("tickets/new/", ticket_views.ticket_new, name="ticket_new"),
    path("tickets/presence/", ticket_views.presence, name="presence"),
    path("tickets/<int:ticket_id>/", ticket_views.ticket_detail, name="ticket_detail"),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        ticket_views.attachment_download,
        name="ticket_attachment",
    ),
    path("reports/", report_views.reports_page, name="reports"),
    path("chat/", chat_views.console, name="chat_console"),
    path("chat/agents/", chat_views.online_agents, name="chat_agents"),
    path("chat/<int:chat_id>/", chat_views.transcript, name="chat_transcript"),
    path("chat/<int:chat_id>/messages/", chat_views.messages, name="chat_messages"),
    path("chat/<int:chat_id>/summary/", chat_views.summary, name="chat_summary"),
    path("chat/<int:chat_id>/canned/", chat_views.canned_list, name="chat_canned_list"),
    path("chat/<int:chat_id>/canned/<int:reply_id>/", chat_views.canned_text, name="chat_canned"),
    path("chat/<int:chat_id>/suggestions/", chat_views.suggestions, name="chat_suggestions"),
    path("chat/<int:chat_id>/ticket/", chat_views.to_ticket, name="chat_ticket"),
    path("tickets/<int:ticket_id>/viewers/", tools_views.ticket_viewers, name="ticket_viewers"),
    path("tickets/<int:ticket_id>/canned/", tools_views.ticket_canned, name="ticket_canned"),
    path("canned/", tools_views.canned_list, name="canned_list"),
    path("canned/new/", tools_views.canned_new, name="canned_new"),
    path("canned/preview/", tools_views.canned_preview, name="canned_preview"),
    path("canned/<int:reply_id>/", tools_views.canned_edit, name="canned_edit"),
    path("rules/", tools_views.rule_list, name="rule_list"),
    path("rules/new/", tools_views.rule_new, name="rule_new"),
    path("rules/<int:rule_id>/", tools_views.rule_edit, name="rule_edit"),
    path("sla/", sla_views.sla_list, name="sla_list"),
    path("sla/new/", sla_views.sla_new, name="sla_new"),
    path("sla/<int:policy_id>/", sla_views.sla_edit, name="sla_edit"),
    path("kb/", views.kb_list, name="kb_list"),
    path("kb/new/", views.kb_new, name="kb_new"),
    path("kb/categories/", views.kb_categories, name="kb_categories"),
    path("kb/searches/", views.kb_searches, name="kb_searches"),
    path("kb/<int:article_id>/", views.kb_edit, name="kb_edit"),
]
