"""Secrets Ronron creates for a service (database password, admin password…).

A secret is generated once, stored encrypted on the service before any step uses it, and reused
by every later step and retry: a crash between "create the database user" and "write the
configuration" must not leave two different passwords.
"""

from __future__ import annotations

import secrets

from django.db import transaction

from ronron.core import audit
from ronron.services.models import Service


def secret(service: Service, name: str, *, length: int = 24) -> str:
    """The service's secret ``name``, generated and saved the first time it is asked for."""
    with transaction.atomic():
        locked = Service.objects.select_for_update().get(pk=service.pk)
        stored = dict(locked.credentials or {})
        if name not in stored:
            stored[name] = secrets.token_urlsafe(length)
            locked.credentials = stored
            locked.save(update_fields=["credentials", "updated_at"])
            # The audit says a secret exists, never its value.
            audit.record(
                "service.secret_generated",
                actor=None,
                obj=locked,
                member_id=locked.member_id,
                after={"secret": name},
            )
        service.credentials = stored
        return str(stored[name])
