import pytest


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="camille", password="un-mot-de-passe-solide", is_staff=True
    )
