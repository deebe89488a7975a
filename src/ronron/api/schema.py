"""The OpenAPI description of the error answers every operation can give.

drf-spectacular documents only the success answer; a client (and schemathesis) must also know
that a request can be refused (400, field by field), unauthenticated (401), forbidden (403) or
aimed at something that does not exist (404), or sent in a format the API does not read (415).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("What went wrong, in the user's language."))


_FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=_(
        "The request was refused: each key names a field (or non_field_errors) and holds "
        "the list of its errors."
    ),
)


class ApiSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors: dict[str, Any] = {
            "401": OpenApiResponse(ErrorSerializer, description=_("No valid token was given.")),
            "403": OpenApiResponse(ErrorSerializer, description=_("This user may not do this.")),
        }
        if self.method in {"POST", "PUT", "PATCH"} or self._is_list_view():
            errors["400"] = _FIELD_ERRORS
        if self.method in {"POST", "PUT", "PATCH"}:
            errors["415"] = OpenApiResponse(
                ErrorSerializer, description=_("The body is not JSON, a form or multipart.")
            )
        if "{" in self.path:
            errors["404"] = OpenApiResponse(ErrorSerializer, description=_("Not found."))
        for code, response in errors.items():
            responses.setdefault(code, self._get_response_for_code(response, code))
        return responses
