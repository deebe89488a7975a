"""The JSON API: thin views over the member actions.

Every query goes through :func:`ronron.core.scoping.scope`; every write through an action (in the
serializers' ``create``/``update`` or in the lifecycle endpoints below). A Django
``ValidationError`` raised by an action becomes a 400 naming the field, like a serializer error.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.fields import get_error_detail
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.serializers import BaseSerializer
from rest_framework.settings import api_settings

from ronron.api.schema import ApiSchema
from ronron.api.serializers import (
    ContactSerializer,
    DateSerializer,
    DepartureNoticeSerializer,
    MemberFilterSerializer,
    MemberSerializer,
    MembershipSerializer,
    PaymentSerializer,
    ThemeSerializer,
)
from ronron.core.scoping import scope
from ronron.members import actions
from ronron.members.models import Contact, Member, Membership, Theme
from ronron.services.models import Service


class Pagination(LimitOffsetPagination):
    # Without a ceiling a client could ask for a LIMIT the database cannot even represent.
    max_limit = 500


def as_api_error(exc: DjangoValidationError, unique_field: str | None = None) -> ValidationError:
    """A Django ``ValidationError`` as DRF's, keyed by field like a serializer error."""
    detail = get_error_detail(exc)
    if not isinstance(detail, dict):
        return ValidationError({api_settings.NON_FIELD_ERRORS_KEY: detail})
    result: dict[str, Any] = {}
    for key, errors in detail.items():
        if key == NON_FIELD_ERRORS:
            # A duplicate (member, e-mail) or (member, year) is about one field the client sent.
            if unique_field and any(e.code == "unique_together" for e in errors):
                key = unique_field
            else:
                key = api_settings.NON_FIELD_ERRORS_KEY
        result.setdefault(key, []).extend(errors)
    return ValidationError(result)


class ActionErrorsMixin:
    """Turn the actions' validation errors into 400 responses; document error answers."""

    schema: ViewInspector | None = ApiSchema()
    unique_field: str | None = None

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DjangoValidationError):
            exc = as_api_error(exc, self.unique_field)
        elif isinstance(exc, Http404):
            # Django's text ("No Contact matches the given query.") is English-only.
            exc = NotFound()
        return super().handle_exception(exc)  # type: ignore[misc]


def _fake(view: Any) -> bool:
    # drf-spectacular builds the schema with a fake view that has no real user behind it.
    return bool(getattr(view, "swagger_fake_view", False))


def _scoped(view: Any, queryset: QuerySet[Any], member_path: str) -> QuerySet[Any]:
    if _fake(view):
        return queryset.none()
    return scope(queryset, view.request.user, member_path=member_path)


def _find_member(members: QuerySet[Member], number: str) -> Member:
    """The member with this number, whatever its case, or a 404 that names the number."""
    # Numbers are stored in upper case since they are normalised; a number written before
    # that may still be in lower case, so the exact spelling is tried first.
    member = (
        members.filter(number=number).first()
        or members.filter(number=actions.normalize_number(number)).first()
    )
    if member is None:
        raise NotFound(_("There is no member with the number %(number)s.") % {"number": number})
    return member


def _member(view: Any) -> Member:
    """The member named in the URL of a nested route, or 404."""
    members = scope(Member.objects.all(), view.request.user, member_path="")
    return _find_member(members, view.kwargs["number"])


NUMBER = OpenApiParameter(
    "number", OpenApiTypes.STR, OpenApiParameter.PATH, description=_("The member number.")
)


def _lifecycle(serializer: type[BaseSerializer], summary: Any) -> Any:
    return extend_schema(request=serializer, responses={200: MemberSerializer}, summary=summary)


@extend_schema_view(
    list=extend_schema(parameters=[MemberFilterSerializer]),
)
class MemberViewSet(
    ActionErrorsMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Members. There is no deletion: a member leaves through the lifecycle."""

    serializer_class = MemberSerializer
    pagination_class = Pagination
    lookup_field = "number"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Member]:
        members = _scoped(self, Member.objects.all(), "").prefetch_related(
            "themes", Prefetch("services", queryset=Service.objects.order_by("family", "kind"))
        )
        if self.action != "list":
            return members
        filters = MemberFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        if "kind" in wanted:
            members = members.filter(kind=wanted["kind"])
        if "status" in wanted:
            members = members.filter(status=wanted["status"])
        if "theme" in wanted:
            members = members.filter(themes__slug=wanted["theme"])
        if "region" in wanted:
            members = members.filter(region=wanted["region"])
        if "departement" in wanted:
            members = members.filter(departement=wanted["departement"].upper())
        if wanted.get("search"):
            text = wanted["search"].strip()
            members = members.filter(
                Q(number__icontains=text) | Q(name__icontains=text) | Q(city__icontains=text)
            )
        return members

    def get_object(self) -> Member:
        member = _find_member(self.get_queryset(), self.kwargs["number"])
        self.check_object_permissions(self.request, member)
        return member

    def _transition(
        self, request: Request, serializer_class: type[BaseSerializer], verb: Any, **names: str
    ) -> Response:
        member = self.get_object()
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        arguments = {name: data.validated_data[field] for name, field in names.items()}
        member = verb(member, actor=request.user, **arguments)
        return Response(MemberSerializer(member, context=self.get_serializer_context()).data)

    @_lifecycle(DateSerializer, _("The board approved the application"))
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, number: str) -> Response:
        return self._transition(request, DateSerializer, actions.approve_application, on="on")

    @_lifecycle(DateSerializer, _("The approved applicant becomes a member"))
    @action(detail=True, methods=["post"])
    def admit(self, request: Request, number: str) -> Response:
        return self._transition(request, DateSerializer, actions.admit_member, on="on")

    @_lifecycle(DepartureNoticeSerializer, _("The member gave notice of leaving"))
    @action(detail=True, methods=["post"], url_path="departure-notice")
    def departure_notice(self, request: Request, number: str) -> Response:
        return self._transition(
            request,
            DepartureNoticeSerializer,
            actions.record_departure_notice,
            leave_on="leave_on",
        )

    @_lifecycle(DateSerializer, _("The member left"))
    @action(detail=True, methods=["post"])
    def leave(self, request: Request, number: str) -> Response:
        return self._transition(request, DateSerializer, actions.record_departure, on="on")


class _MemberChildren(ActionErrorsMixin, mixins.ListModelMixin, mixins.CreateModelMixin):
    """The contacts or memberships of the member named in the URL."""

    model: type[Model]

    def get_queryset(self) -> QuerySet[Any]:
        if _fake(self):
            return self.model._default_manager.none()
        member = _member(self)
        return _scoped(self, self.model._default_manager.filter(member=member), "member")

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(member=_member(self))


@extend_schema_view(
    list=extend_schema(parameters=[NUMBER]), create=extend_schema(parameters=[NUMBER])
)
class MemberContactViewSet(_MemberChildren, viewsets.GenericViewSet):
    model = Contact
    serializer_class = ContactSerializer
    pagination_class = Pagination
    unique_field = "email"


@extend_schema_view(
    list=extend_schema(parameters=[NUMBER]), create=extend_schema(parameters=[NUMBER])
)
class MemberMembershipViewSet(_MemberChildren, viewsets.GenericViewSet):
    model = Membership
    serializer_class = MembershipSerializer
    pagination_class = Pagination
    unique_field = "year"


class ContactViewSet(
    ActionErrorsMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ContactSerializer
    unique_field = "email"
    # Anything that is not an id is answered by the view (a JSON 404), not by the URL resolver.
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Contact]:
        return _scoped(self, Contact.objects.select_related("member"), "member")

    def perform_destroy(self, instance: Contact) -> None:
        actions.remove_contact(instance, actor=self.request.user)


class MembershipViewSet(
    ActionErrorsMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MembershipSerializer
    unique_field = "year"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Membership]:
        return _scoped(self, Membership.objects.select_related("member"), "member")

    @extend_schema(
        request=PaymentSerializer,
        responses={200: MembershipSerializer},
        summary=_("Record the payment of a year's dues"),
    )
    @action(detail=True, methods=["post"])
    def payment(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        data = PaymentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        membership = actions.record_payment(
            membership,
            actor=request.user,
            paid_on=values["paid_on"],
            method=values["payment_method"],
            amount=values.get("amount"),
        )
        return Response(self.get_serializer(membership).data)


class ThemeViewSet(ActionErrorsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ThemeSerializer
    pagination_class = Pagination
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Theme]:
        # Themes are the hoster's shared vocabulary, not any one member's data.
        return Theme.objects.all()


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
def not_found(request: Request, *args: Any, **kwargs: Any) -> Response:
    """Unknown API addresses answer in JSON like the rest of the API, not with an HTML page."""
    if not request.path.endswith("/"):
        # The catch-all takes precedence over APPEND_SLASH's redirect, so say what is missing.
        raise NotFound(_("Not found. API addresses end with a slash (/)."))
    raise NotFound
