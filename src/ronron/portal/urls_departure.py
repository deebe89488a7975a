"""Leaving, under /portal/<number>/departure/: the member's page, the export's download link,
and the console's actions on the member's behalf (staff only)."""

from django.urls import path

from ronron.portal import views_departure

app_name = "portal_departure"
urlpatterns = [
    path("", views_departure.departure, name="index"),
    path("export/<str:token>/", views_departure.download, name="download"),
    path("console/notice/", views_departure.console_notice, name="console_notice"),
    path("console/export/", views_departure.console_export, name="console_export"),
    path("console/link/", views_departure.console_link, name="console_link"),
]
