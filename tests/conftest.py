import pytest


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


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="camille", password="un-mot-de-passe-solide", is_staff=True
    )
