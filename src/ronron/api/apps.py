from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ronron.api"
    label = "api"
    verbose_name = "API"
