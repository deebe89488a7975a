"""The member portal, under /portal/. A member's pages are under /portal/<number>/; every view
there gets the member through ``portal.access`` (which 404s for a member the user does not
manage)."""

from django.urls import include, path

from ronron.portal import views, views_access

app_name = "portal"
urlpatterns: list = [
    path("", views.home, name="home"),
    path("invitation/<str:token>/", views_access.invitation, name="invitation"),
    path("helpers/", include("ronron.portal.urls_helpers")),
    path("<str:number>/", views.dashboard, name="dashboard"),
    path("<str:number>/services/", views.services, name="services"),
    path("<str:number>/dues/", views.dues, name="dues"),
    path("<str:number>/contacts/", views.contacts, name="contacts"),
    path("<str:number>/contacts/add/", views.contact_add, name="contact_add"),
    path("<str:number>/contacts/<int:contact_pk>/edit/", views.contact_edit, name="contact_edit"),
    path(
        "<str:number>/contacts/<int:contact_pk>/remove/",
        views.contact_remove,
        name="contact_remove",
    ),
    path("<str:number>/data/", views.data, name="data"),
    path("<str:number>/data/<int:job_id>/download/", views.data_download, name="data_download"),
    path("<str:number>/requests/", include("ronron.portal.urls_requests")),
    path("<str:number>/help/", include("ronron.portal.urls_help")),
    path("<str:number>/departure/", include("ronron.portal.urls_departure")),
]
