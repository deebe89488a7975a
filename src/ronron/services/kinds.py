"""Service kinds and the families reports group them in.

A kind is what a driver makes real (wordpress, list…); a family is what the general-assembly
report counts (web, lists…). External services may be recorded by family only.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

FAMILIES: dict[str, object] = {
    "web": _("Web sites"),
    "lists": _("Mailing lists"),
    "cloud": _("Cloud"),
    "galette": _("Galette"),
    "dolibarr": _("Dolibarr"),
    "mail": _("E-mail"),
    "visio": _("Video conferencing"),
    "pad": _("Collaborative pads"),
    "other": _("Other"),
}

# kind → family
KINDS: dict[str, str] = {
    "static": "web",
    "wordpress": "web",
    "spip": "web",
    "app": "web",
    "list": "lists",
    "cloud": "cloud",
    "cloudgroup": "cloud",
    "galette": "galette",
    "dolibarr": "dolibarr",
    "mailbox": "mail",
    "visio": "visio",
    "pad": "pad",
}

KIND_LABELS: dict[str, object] = {
    "static": _("Static web site"),
    "wordpress": _("WordPress site"),
    "spip": _("SPIP site"),
    "app": _("Web application"),
    "list": _("Mailing list"),
    "cloud": _("Cloud space"),
    "cloudgroup": _("Cloud work group"),
    "galette": _("Galette instance"),
    "dolibarr": _("Dolibarr instance"),
    "mailbox": _("Mailbox"),
    "visio": _("Video conferencing"),
    "pad": _("Pad"),
}


def resolve(token: str) -> tuple[str, str] | None:
    """(kind, family) for a kind or family name as written in a CSV; None if unknown.

    A family name gives an empty kind: the service is known only by its family.
    """
    name = token.strip().lower()
    if name in KINDS:
        return name, KINDS[name]
    if name in FAMILIES:
        return "", name
    return None
