from django.urls import path

from ronron.services import views_rosters as views

app_name = "rosters"
urlpatterns = [
    path("", views.roster_list, name="list"),
    path("new/", views.roster_create, name="create"),
    path("<int:pk>/", views.roster_detail, name="detail"),
    path("<int:pk>/edit/", views.roster_edit, name="edit"),
    path("<int:pk>/delete/", views.roster_delete, name="delete"),
    path("<int:pk>/upload/", views.roster_upload, name="upload"),
    # Which roster a service follows (the form is on the service's page).
    path("follow/<int:pk>/", views.service_follow, name="follow"),
]
