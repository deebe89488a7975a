"""The public application form (no login)."""

from django.urls import path

from ronron.members import views_join

app_name = "join"
urlpatterns = [
    path("", views_join.join, name="form"),
    path("thanks/", views_join.thanks, name="thanks"),
]
