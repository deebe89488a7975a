from django.urls import path

from ronron.core import views

app_name = "core"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/two-step/", views.otp_setup, name="otp_setup"),
    path("account/two-step/remove/", views.otp_remove, name="otp_remove"),
    path("account/two-step/verify/", views.otp_verify, name="otp_verify"),
]
