from django.urls import path

from ronron.fleet import views

app_name = "fleet"
urlpatterns = [
    path("", views.server_list, name="list"),
    path("new/", views.server_create, name="create"),
    path("<slug:name>/", views.server_detail, name="detail"),
    path("<slug:name>/edit/", views.server_edit, name="edit"),
    path("<slug:name>/nextcloud/", views.server_nextcloud, name="nextcloud"),
    path("<slug:name>/refresh-usage/", views.server_refresh_usage, name="refresh_usage"),
]
