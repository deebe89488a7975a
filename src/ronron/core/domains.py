"""Domain names as they may reach nginx, DNS and certificates: validated through IDNA (UTS 46,
from the `idna` package) and returned in their ASCII form."""

from __future__ import annotations

import ipaddress
import re

import idna
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.core.validators import reject_control_characters

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(value: str) -> str:
    """``Café.Example.org`` → ``xn--caf-dma.example.org``; a clear error for anything else."""
    reject_control_characters(value)
    text = (value or "").strip().rstrip(".")
    if not text:
        raise ValidationError(_("Enter a domain name, for example monasso.fr."), code="empty")
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValidationError(
            _("An IP address is not a domain name: enter a name such as monasso.fr."),
            code="ip_address",
        )
    try:
        ascii_form = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValidationError(
            _("“%(value)s” is not a valid domain name.") % {"value": text[:100]}, code="invalid"
        ) from exc
    labels = ascii_form.split(".")
    if len(labels) < 2 or len(ascii_form) > 253 or not all(_LABEL.match(lb) for lb in labels):
        raise ValidationError(
            _("“%(value)s” is not a valid domain name.") % {"value": text[:100]}, code="invalid"
        )
    if labels[-1].isdigit():
        raise ValidationError(
            _("“%(value)s” is not a valid domain name.") % {"value": text[:100]}, code="invalid"
        )
    return ascii_form
