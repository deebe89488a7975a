"""The portal's invitation message (``core.mail``): texts in templates/mail/portal.invitation.*."""

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

mail.register(
    "portal.invitation",
    _("Invitation to manage a member in the portal"),
    {
        "member_name": _("the member's name"),
        "member_number": _("the member's number"),
        "link": _("the personal link that accepts the invitation"),
        "expires_on": _("the last day the link works"),
        "days": _("how many days the link works"),
    },
)
