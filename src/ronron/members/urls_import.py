from django.urls import path

from ronron.members import views_import

app_name = "members_import"
urlpatterns = [
    path("", views_import.upload, name="upload"),
    path("confirm/", views_import.confirm, name="confirm"),
    path("cancel/", views_import.cancel, name="cancel"),
    path("export.csv", views_import.export, name="export"),
]
