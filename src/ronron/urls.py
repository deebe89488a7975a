from django.urls import include, path

urlpatterns = [
    path("", include("ronron.core.urls")),
    path("members/", include("ronron.members.urls")),
    path("jobs/", include("ronron.jobs.urls")),
    path("api/", include("ronron.api.urls")),
]
