from pathlib import Path

import pytest

# `serve_env` and the served-process helpers, for tests that run a real `ronron serve`.
# The real servers the tests start on loopback (session-scoped, started on first use).
pytest_plugins = [
    "tests.serving",
    "tests.stack.nginx",
    "tests.stack.pebble",
    "tests.stack.phpfpm",
    "tests.stack.mariadb",
    "tests.stack.sshd",
    "tests.stack.sympa",
    "tests.drivers.wpstack",
    "tests.stack.nextcloud",
    "tests.drivers.nextcloud.cloudkit",
]


@pytest.fixture(autouse=True)
def console_settings(settings):
    # Assertions read English messages: they must hold whatever the French catalogue says.
    # Tests about French pages set the language themselves.
    settings.LANGUAGE_CODE = "en"
    # The manifest storage needs `collectstatic`; page tests only need the URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # WhiteNoise warns when the collected-files directory is missing; tests never collect.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="camille", password="un-mot-de-passe-solide", is_staff=True
    )
