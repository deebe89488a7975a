"""Messages about service requests (core.mail kinds); texts in templates/mail/requests.*."""

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

_COMMON = {
    "member_name": _("the member's name"),
    "member_number": _("the member's number"),
    "service_title": _("the catalog entry asked for (such as “WordPress site”)"),
    "address": _("the address asked for (domain name or list address)"),
    "message": _("what the member wrote with the request"),
    "requests_url": _("the request's page in the member portal"),
}

mail.register(
    "requests.decided",
    _("Service request: decision"),
    {
        **_COMMON,
        "approved": _("true when the request was accepted, false when it was refused"),
        "reason": _("why it was refused"),
    },
)
mail.register("requests.ready", _("Service request: the service is ready"), _COMMON)
mail.register(
    "requests.new_request",
    _("Service request: a new request waits for an admin (to the admins)"),
    {**_COMMON, "request_url": _("the request's page in the console")},
)
