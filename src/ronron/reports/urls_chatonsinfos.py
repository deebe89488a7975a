from django.urls import path, re_path

from ronron.reports import chatonsinfos, views_chatonsinfos

app_name = "chatonsinfos"

urlpatterns = [
    path("", views_chatonsinfos.index, name="index"),
    path("organization.properties", views_chatonsinfos.organization, name="organization"),
    re_path(
        rf"^(?P<file_id>{chatonsinfos.FILE_ID.pattern})\.properties$",
        views_chatonsinfos.service,
        name="service",
    ),
]
