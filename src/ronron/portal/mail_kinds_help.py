"""Messages of the help queue (core.mail kinds); texts in templates/mail/help.*."""

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

_COMMON = {
    "member_name": _("the member's name"),
    "member_number": _("the member's number"),
    "subject": _("the subject of the help request"),
    "message": _("the message just written"),
    "request_url": _("the conversation's page"),
}

mail.register("help.new_request", _("Help queue: a member asks for help (to the admins)"), _COMMON)
mail.register(
    "help.member_replied",
    _("Help queue: the member wrote again (to whoever took the request, else the admins)"),
    _COMMON,
)
mail.register(
    "help.answered",
    _("Help queue: an answer for the member"),
    {**_COMMON, "helper_name": _("who answered")},
)
