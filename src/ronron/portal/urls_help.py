"""A member's help requests, under /portal/<number>/help/ (``number`` reaches every view as a
keyword argument)."""

from django.urls import path

from ronron.portal import views_help as views

app_name = "portal_help"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/reopen/", views.reopen, name="reopen"),
]
