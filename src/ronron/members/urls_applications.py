"""The board's side of the onboarding (staff console)."""

from django.urls import path

from ronron.members import views_applications as views

app_name = "applications"
urlpatterns = [
    path("", views.application_list, name="list"),
    path("onboarding/", views.onboarding_list, name="onboarding"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/approve/", views.application_approve, name="approve"),
    path("<int:pk>/refuse/", views.application_refuse, name="refuse"),
]
