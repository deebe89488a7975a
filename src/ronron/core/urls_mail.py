"""The console's message editor, under /mail/."""

from django.urls import path

from ronron.core import views_mail

app_name = "mail"
urlpatterns = [
    path("", views_mail.mail_list, name="list"),
    path("<str:key>/<str:language>/", views_mail.mail_edit, name="edit"),
    path("<str:key>/<str:language>/reset/", views_mail.mail_reset, name="reset"),
]
