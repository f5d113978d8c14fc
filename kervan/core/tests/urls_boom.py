"""Kervan's URLs plus one view that crashes, for the 500 page test (test_serving.py)."""

from django.urls import path

from config.urls import handler404, handler500, urlpatterns  # noqa: F401 - the handlers are read from this module


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [*urlpatterns, path("boom/", boom)]
