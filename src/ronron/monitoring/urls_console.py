from django.urls import path

from ronron.monitoring import views_console as views

app_name = "monitoring"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("checks/", views.check_list, name="checks"),
    path("checks/new/", views.check_create, name="check_create"),
    path("checks/<int:pk>/", views.check_detail, name="check"),
    path("checks/<int:pk>/edit/", views.check_edit, name="check_edit"),
    path("checks/<int:pk>/delete/", views.check_delete, name="check_delete"),
    path("maintenances/", views.maintenance_list, name="maintenances"),
    path("maintenances/new/", views.maintenance_create, name="maintenance_create"),
    path("maintenances/<int:pk>/", views.maintenance_edit, name="maintenance_edit"),
    path("maintenances/<int:pk>/delete/", views.maintenance_delete, name="maintenance_delete"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/new/", views.incident_create, name="incident_create"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/update/", views.incident_update, name="incident_update"),
    path("incidents/<int:pk>/resolve/", views.incident_resolve, name="incident_resolve"),
    path("members/<int:pk>/status-page/", views.status_page, name="status_page"),
    path(
        "members/<int:pk>/status-page/visibility/",
        views.status_page_visibility,
        name="status_page_visibility",
    ),
    path("members/<int:pk>/status-page/link/", views.status_page_link, name="status_page_link"),
]
