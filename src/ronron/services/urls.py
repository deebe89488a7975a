from django.urls import path

from ronron.services import views

app_name = "services"
urlpatterns = [
    path("new/", views.service_create, name="create"),
    path("<int:pk>/", views.service_detail, name="detail"),
    path("<int:pk>/suspend/", views.service_suspend, name="suspend"),
    path("<int:pk>/resume/", views.service_resume, name="resume"),
    path("<int:pk>/remove/", views.service_remove, name="remove"),
    path("<int:pk>/settings/", views.service_settings, name="settings"),
    path("<int:pk>/credentials/", views.service_send_credentials, name="send_credentials"),
    path("<int:pk>/apply/", views.service_apply, name="apply"),
]
