from typing import Any

from django.conf import settings
from django.http import HttpRequest


def ronron(request: HttpRequest) -> dict[str, Any]:
    return {"hoster_name": settings.RONRON.hoster_name}
