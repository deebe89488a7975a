"""A member's service requests, under /portal/<number>/requests/ (``number`` reaches every
view as a keyword argument)."""

from django.urls import path

from ronron.portal import views_requests as views

app_name = "portal_requests"
urlpatterns = [
    path("", views.index, name="index"),
    path("ask/<int:offer_id>/", views.ask, name="ask"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
]
