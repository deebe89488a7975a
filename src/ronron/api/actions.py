"""API tokens: issued, rotated and revoked through audited actions.

A token is a password: it is shown once to whoever asked for it and never written to the audit
trail or to a log. The audit entry names the user the token belongs to, not the token.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from ronron.core import audit


@transaction.atomic
def issue_token(user: Any, *, actor: Any, rotate: bool = False) -> str:
    """Give ``user`` an API token and return its key (the only time it is readable in clear).

    A user has at most one token. Asking again without ``rotate`` is refused, so that a second
    call cannot silently cut off a program already using the first token.
    """
    existing = Token.objects.select_for_update().filter(user=user).first()
    if existing is not None and not rotate:
        raise ValidationError(
            _("%(user)s already has an API token.") % {"user": user.get_username()},
            code="token_exists",
        )
    if existing is not None:
        existing.delete()
    token = Token.objects.create(user=user)
    audit.record(
        "api.token_rotated" if existing is not None else "api.token_created",
        actor=actor,
        obj=user,
        after={"user": user.get_username(), "created": token.created.isoformat()},
    )
    return token.key


@transaction.atomic
def revoke_token(user: Any, *, actor: Any) -> bool:
    """Delete ``user``'s API token; False when there was none."""
    deleted, _rows = Token.objects.filter(user=user).delete()
    if not deleted:
        return False
    audit.record("api.token_revoked", actor=actor, obj=user, before={"user": user.get_username()})
    return True
