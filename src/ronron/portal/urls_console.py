"""The console's pages for the catalog, service requests and the help queue (staff only)."""

from django.urls import path

from ronron.portal import views_console as views

app_name = "desk"
urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/new/", views.catalog_add, name="catalog_add"),
    path("catalog/<int:pk>/", views.catalog_edit, name="catalog_edit"),
    path("requests/", views.request_queue, name="requests"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/approve/", views.request_approve, name="request_approve"),
    path("requests/<int:pk>/refuse/", views.request_refuse, name="request_refuse"),
    path("help/", views.help_queue, name="help_queue"),
    path("help/<int:pk>/", views.help_detail, name="help_detail"),
    path("help/<int:pk>/take/", views.help_take, name="help_take"),
    path("help/<int:pk>/answer/", views.help_answer, name="help_answer"),
    path("help/<int:pk>/close/", views.help_close, name="help_close"),
    path("help/<int:pk>/reopen/", views.help_reopen, name="help_reopen"),
]
