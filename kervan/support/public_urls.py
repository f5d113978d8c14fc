"""/help/…: the public help centre; Turkish at /help/, English at /help/en/ (each URL has one language, so a
cache keeps one copy per address)."""

from django.urls import path

from kervan.support import csat_views
from kervan.support import public_views as views

app_name = "help"

urlpatterns = []
for _language, _prefix in (("en", "en/"), ("tr", "")):  # /help/en/ before /help/<slug>/
    _lang = {"language": _language}
    urlpatterns += [
        path(f"{_prefix}", views.index, _lang, name=f"index_{_language}"),
        path(f"{_prefix}search/", views.search_page, _lang, name=f"search_{_language}"),
        path(f"{_prefix}contact/", views.contact, _lang, name=f"contact_{_language}"),
        path(f"{_prefix}category/<slug:slug>/", views.category, _lang, name=f"category_{_language}"),
        path(f"{_prefix}<slug:slug>/", views.article, _lang, name=f"article_{_language}"),
        path(f"{_prefix}<slug:slug>/feedback/", views.feedback, _lang, name=f"feedback_{_language}"),
    ]
# A CSAT survey's page (kervan.support.csat_views): one address per survey, in the survey's language.
urlpatterns += [path("csat/<str:token>/", csat_views.survey, name="csat")]
