"""The console's side of portal access, under /access/ (staff only): invite a person to
manage a member, cancel an invitation, revoke an access, make a manager a volunteer helper."""

from django.urls import path

from ronron.portal import views_access

app_name = "access"
urlpatterns = [
    path("members/<int:pk>/invite/", views_access.invite, name="invite"),
    path("invitations/<int:pk>/cancel/", views_access.cancel, name="cancel"),
    path("managers/<int:pk>/revoke/", views_access.revoke, name="revoke"),
    path("managers/<int:pk>/helper/", views_access.helper, name="helper"),
]
