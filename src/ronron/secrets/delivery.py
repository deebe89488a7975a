"""Credentials Ronron makes, handed to a person as a one-time link sent by mail.

Ronron seals the text under a fresh key (``envelope.seal``), stores only the ciphertext, and
puts the key in the link's fragment, in the mail, and nowhere else: once the mail is gone,
Ronron itself can no longer open what it stored. The recipient opens the link, reveals the
secret once (``store.claim`` marks the ``Delivery`` opened), and it is gone from storage.

Who uses it: a new WordPress site's administrator account (``services/handover.py``, after
the apply that installs it, and "send new credentials"). Cloud accounts will call ``deliver``
the same way when that kind arrives. Sympa list owners need nothing: they log in with Sympa's
own e-mail login (Sympa mails them a link), and Ronron makes no password for them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from ronron.core import audit, mail
from ronron.core.validators import reject_control_characters, validate_email
from ronron.secrets import envelope, store
from ronron.secrets.models import Delivery, Secret

log = logging.getLogger(__name__)

# The message (core.mail) that carries the link; its texts are in templates/mail/.
MAIL_KIND = "secrets.credentials"
MAX_PURPOSE = 200


class DeliveryFailed(Exception):
    """The mail could not be sent; nothing was kept (no secret, no delivery)."""


def check_recipient(recipient: str) -> str:
    """One e-mail address, nothing else (no name, no list, no line break)."""
    if not isinstance(recipient, str):
        raise ValidationError(_("Enter a valid e-mail address."), code="invalid")
    try:
        validate_email(recipient)
    except ValidationError:
        raise ValidationError(
            _("The credentials go to one e-mail address; %(value)s is not one.")
            % {"value": repr(recipient)[1:-1][:100]},
            code="invalid_recipient",
        ) from None
    return recipient


def _check_purpose(purpose: str) -> str:
    reject_control_characters(purpose)
    purpose = " ".join(purpose.split())
    if not purpose or len(purpose) > MAX_PURPOSE:
        raise ValidationError(
            _("Say in at most %(size)d characters what the credentials are for.")
            % {"size": MAX_PURPOSE},
            code="invalid_purpose",
        )
    return purpose


def link_for(secret_id: str, key: str) -> str:
    return f"{settings.RONRON.public_url}{reverse('secrets:show', args=[secret_id])}#{key}"


def _describe(exc: BaseException) -> str:
    """A failure in a few words; SMTP replies and socket errors carry no secret."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:200]


def deliver(
    text: str,
    *,
    recipient: str,
    purpose: str,
    member: Any = None,
    service: Any = None,
    actor: Any = None,
    lifetime: timedelta | None = None,
) -> Delivery:
    """Send ``text`` to ``recipient`` as a one-time link; returns the delivery's record.

    ``purpose`` says what the credentials are for, in the hoster's language ("the
    administrator account of the site example.org"): it is in the mail, the console and the
    audit. Raises ValidationError for a bad recipient or purpose, DeliveryFailed when the mail
    could not be sent — and then nothing is kept.
    """
    recipient = check_recipient(recipient)
    purpose = _check_purpose(purpose)
    lifetime = lifetime or timedelta(days=settings.RONRON.secrets.credentials_link_days)
    store.check_lifetime(int(lifetime.total_seconds()))
    key, sealed = envelope.seal(text)
    # Stored before the mail goes, so that the link works as soon as it arrives; the mail
    # is sent outside any transaction (a slow mail server must not hold the database).
    secret_id, row = store.store(sealed, lifetime=lifetime, origin=Secret.Origin.RONRON)
    try:
        mail.send(
            MAIL_KIND,
            [recipient],
            {"purpose": purpose, "link": link_for(secret_id, key), "expires": row.expires_at},
        )
    except Exception as exc:
        Secret.objects.filter(lookup=row.lookup).delete()
        log.warning("credentials for %s not sent to %s: %s", purpose, recipient, _describe(exc))
        raise DeliveryFailed(
            _(
                "The credentials could not be sent to %(recipient)s (%(error)s). "
                "Nothing was kept: try again once mail goes out."
            )
            % {"recipient": recipient, "error": _describe(exc)}
        ) from None
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                lookup=row.lookup,
                purpose=purpose,
                recipient=recipient,
                member=member,
                service=service,
                expires_at=row.expires_at,
            )
            # Never the link, its key or the secret: who, what for, until when.
            audit.record(
                "secret.delivered",
                actor=actor,
                obj=delivery,
                member_id=getattr(member, "pk", None),
                after={
                    "recipient": recipient,
                    "purpose": purpose,
                    "expires_at": row.expires_at.isoformat(),
                    "service": getattr(service, "pk", None),
                },
            )
    except Exception:
        # The mail is out, but a link nobody can follow up on is worse than a dead link.
        Secret.objects.filter(lookup=row.lookup).delete()
        raise
    log.info("credentials for %s sent to %s, valid until %s", purpose, recipient, row.expires_at)
    return delivery
