"""The volunteer helpers' pages, under /portal/helpers/: every member's help requests, and
nothing else of theirs."""

from django.urls import path

from ronron.portal import views_help as views

app_name = "helpers"
urlpatterns = [
    path("", views.helper_queue, name="queue"),
    path("<int:pk>/", views.helper_detail, name="detail"),
    path("<int:pk>/take/", views.helper_take, name="take"),
    path("<int:pk>/answer/", views.helper_answer, name="answer"),
    path("<int:pk>/close/", views.helper_close, name="close"),
]
