"""The console's cloud page (staff only): licences of apps bought by the seat, every space."""

from django.urls import path

from ronron.services import views_cloud as views

app_name = "cloud"
urlpatterns = [
    path("", views.cloud_index, name="index"),
    path("licences/", views.licence_set, name="licence_set"),
    path("licences/remove/", views.licence_remove, name="licence_remove"),
]
