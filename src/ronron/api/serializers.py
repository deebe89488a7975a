"""The shapes the API reads and writes. Serializers check shape; actions check meaning.

Writes never save a model here: ``create``/``update`` hand the validated data to the member
actions with the requesting user as actor, so the API audits exactly like the web console.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ronron.core.validators import reject_control_characters
from ronron.members import actions
from ronron.members.models import Contact, Member, Membership, Theme
from ronron.services.kinds import FAMILIES, KIND_LABELS
from ronron.services.models import Service

# A member's year lives in dates (call, reminder, cut-off): Python dates stop at 9999.
MAX_YEAR = 9999


def _actor(serializer: serializers.BaseSerializer) -> Any:
    return serializer.context["request"].user


class ThemeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Theme
        fields = ["slug", "name"]


class ServiceSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=list(KIND_LABELS), allow_blank=True, read_only=True)
    family = serializers.ChoiceField(choices=list(FAMILIES), read_only=True)

    class Meta:
        model = Service
        fields = ["kind", "family", "managed"]
        read_only_fields = fields


SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


class ThemeSlugField(serializers.SlugRelatedField):
    """A theme by its code; anything that cannot be a code is refused before the database is
    asked (PostgreSQL refuses a NUL character in a query with an error, not an empty answer)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not SLUG.fullmatch(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:60])
        return super().to_internal_value(data)


class MemberSerializer(serializers.ModelSerializer):
    themes = ThemeSlugField(
        many=True, slug_field="slug", queryset=Theme.objects.all(), required=False
    )
    services = ServiceSerializer(many=True, read_only=True)
    # Identifiers are accepted as people write them ("W313 012 345", "732 829 320"): the
    # action normalises them, then validates; a longer limit than the stored one allows that.
    rna = serializers.CharField(max_length=20, allow_blank=True, required=False)
    siren = serializers.CharField(max_length=20, allow_blank=True, required=False)
    # Lower case is accepted and upper-cased by the action.
    country = serializers.CharField(
        min_length=2, max_length=2, required=False, validators=[reject_control_characters]
    )

    class Meta:
        model = Member
        fields = [
            "number",
            "kind",
            "name",
            "legal_form",
            "rna",
            "siren",
            "address",
            "postal_code",
            "city",
            "country",
            "departement",
            "region",
            "themes",
            "services",
            "status",
            "applied_on",
            "approved_on",
            "joined_on",
            "left_on",
            "notes",
            "created_at",
            "updated_at",
        ]
        # The status moves only through the lifecycle endpoints (approve, admit, leave…);
        # on creation it follows the dates given.
        read_only_fields = ["departement", "region", "status", "created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> Member:
        themes = validated_data.pop("themes", None)
        return actions.create_member(actor=_actor(self), themes=themes, **validated_data)

    def update(self, instance: Member, validated_data: dict[str, Any]) -> Member:
        themes = validated_data.pop("themes", None)
        return actions.update_member(instance, actor=_actor(self), themes=themes, **validated_data)


class ContactSerializer(serializers.ModelSerializer):
    member: serializers.SlugRelatedField[Member] = serializers.SlugRelatedField(
        slug_field="number", read_only=True
    )
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=Contact.Role.choices),
        source="role_list",
        required=False,
        max_length=len(Contact.Role.choices),
    )

    class Meta:
        model = Contact
        fields = ["id", "member", "name", "email", "phone", "roles", "created_at", "updated_at"]
        read_only_fields = ["id", "member", "created_at", "updated_at"]
        # Uniqueness of the e-mail within a member is the action's business (it knows the
        # member); the serializer alone cannot tell.
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> Contact:
        roles = validated_data.pop("role_list", [])
        member = validated_data.pop("member")
        return actions.add_contact(member, actor=_actor(self), roles=roles, **validated_data)

    def update(self, instance: Contact, validated_data: dict[str, Any]) -> Contact:
        roles = validated_data.pop("role_list", None)
        return actions.update_contact(instance, actor=_actor(self), roles=roles, **validated_data)


class MembershipSerializer(serializers.ModelSerializer):
    member: serializers.SlugRelatedField[Member] = serializers.SlugRelatedField(
        slug_field="number", read_only=True
    )
    year = serializers.IntegerField(min_value=1901, max_value=MAX_YEAR)
    status = serializers.ChoiceField(
        choices=Membership.Status.choices,
        read_only=True,
        help_text=_("Derived from the dates and the dues calendar."),
    )

    class Meta:
        model = Membership
        fields = [
            "id",
            "member",
            "year",
            "amount",
            "called_on",
            "paid_on",
            "payment_method",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "member", "status", "created_at", "updated_at"]
        extra_kwargs = {"amount": {"required": True}}
        validators: list = []

    def create(self, validated_data: dict[str, Any]) -> Membership:
        member = validated_data.pop("member")
        return actions.create_membership(member, actor=_actor(self), **validated_data)

    def update(self, instance: Membership, validated_data: dict[str, Any]) -> Membership:
        return actions.update_membership(instance, actor=_actor(self), **validated_data)


class PaymentSerializer(serializers.Serializer):
    paid_on = serializers.DateField()
    payment_method = serializers.ChoiceField(choices=Membership.PaymentMethod.choices)
    amount = serializers.DecimalField(
        max_digits=9,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
    )


class DateSerializer(serializers.Serializer):
    on = serializers.DateField(help_text=_("The day it happened."))


class DepartureNoticeSerializer(serializers.Serializer):
    leave_on = serializers.DateField(help_text=_("The member stays a member until this day."))


class MemberFilterSerializer(serializers.Serializer):
    """The query parameters of the member list; unknown values are refused, not ignored."""

    kind = serializers.ChoiceField(choices=Member.Kind.choices, required=False)
    status = serializers.ChoiceField(choices=Member.Status.choices, required=False)
    theme = serializers.SlugField(max_length=50, required=False, help_text=_("A theme code."))
    region = serializers.CharField(max_length=100, required=False)
    departement = serializers.CharField(max_length=3, required=False)
    search = serializers.CharField(
        max_length=200,
        required=False,
        help_text=_("Part of the number, the name or the city."),
    )
