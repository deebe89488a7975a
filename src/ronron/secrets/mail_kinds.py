"""The one-time secrets' message, registered with core.mail."""

from datetime import UTC, datetime

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

mail.register(
    "secrets.credentials",
    _("Credentials sent as a one-time link"),
    {
        "purpose": _("what the credentials are for (the administrator account of the site …)"),
        "link": _("the one-time link that shows them"),
        "expires": _("when the link stops working (a date and time)"),
    },
    sample=lambda language: {
        "purpose": (
            "le compte administrateur du site velo.example.org"
            if language == "fr"
            else "the administrator account of the site velo.example.org"
        ),
        "link": "https://ronron.example.org/secret/AbCdEfGhIjKlMnOpQrStUv/#exemple-de-clef",
        "expires": datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
    },
)
