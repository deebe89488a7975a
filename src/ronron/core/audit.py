"""The audit trail: every action writes one entry, in the same transaction as its change."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from ronron.core.models import AuditEntry


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set):
        return [_json_value(v) for v in value]
    return value


def snapshot(obj: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The concrete field values of ``obj`` as JSON-ready data (foreign keys as ids)."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude or field.name in {"id", "created_at", "updated_at"}:
            continue
        if getattr(field, "encrypted", False):
            # Secrets never reach the audit log; only whether one is set.
            data[field.name] = "<set>" if getattr(obj, field.attname) else None
            continue
        data[field.name] = _json_value(getattr(obj, field.attname))
    return data


def record(
    action: str,
    *,
    actor: Any,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    member_id: int | None = None,
    object_type: str = "",
    object_repr: str = "",
) -> AuditEntry:
    """Write one audit entry. Must be called inside the action's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"audit.record({action!r}) outside of a transaction")
    user = actor if getattr(actor, "is_authenticated", False) else None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_repr = object_repr or str(obj)[:255]
    return AuditEntry.objects.create(
        action=action,
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        object_type=object_type,
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=object_repr[:255],
        member_id=member_id,
        before=before,
        after=after,
    )
