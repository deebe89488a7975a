from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecretsConfig(AppConfig):
    name = "ronron.secrets"
    label = "secrets"
    verbose_name = _("One-time secrets")
