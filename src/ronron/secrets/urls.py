from django.urls import path, register_converter

from ronron.secrets import store, views


class SecretIdConverter:
    regex = store.ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SecretIdConverter, "secret_id")

app_name = "secrets"
urlpatterns = [
    path("", views.new, name="new"),
    path("<secret_id:secret_id>/", views.show, name="show"),
]
