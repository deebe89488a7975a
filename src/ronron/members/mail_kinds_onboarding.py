"""Messages of the onboarding: from the public application to the welcome."""

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

SERVICES = _("The services: a list of items, each with “title” and “address”.")

mail.register(
    "onboarding.application_received",
    _("Application received (to the applicant)"),
    {
        "name": _("Name of the organisation or person applying"),
        "contact_name": _("Name of the person who applied"),
        "services": SERVICES,
    },
)
mail.register(
    "onboarding.application_notice",
    _("New application (to the board)"),
    {
        "name": _("Name of the organisation or person applying"),
        "kind": _("Kind of member (association, collective, individual)"),
        "contact_name": _("Name of the person who applied"),
        "contact_email": _("E-mail address of the person who applied"),
        "services": SERVICES,
        "message": _("The applicant's message"),
        "console_url": _("Link to the application in the console"),
    },
)
mail.register(
    "onboarding.decision_approved",
    _("Application approved (to the new member)"),
    {
        "name": _("Name of the new member"),
        "number": _("Member number"),
        "contact_name": _("Name of the person who applied"),
        "dues_year": _("Year of the first dues"),
        "dues_amount": _("Amount of the first dues"),
        "services": SERVICES,
    },
)
mail.register(
    "onboarding.decision_refused",
    _("Application refused (to the applicant)"),
    {
        "name": _("Name of the organisation or person who applied"),
        "contact_name": _("Name of the person who applied"),
        "reason": _("The board's reason"),
    },
)
mail.register(
    "onboarding.welcome",
    _("Welcome, once the services are ready (to the new member)"),
    {
        "name": _("Name of the member"),
        "number": _("Member number"),
        "portal_url": _("Link to the member's space"),
        "services": SERVICES,
        "help_url": _("Link to ask for help in the member's space"),
        "help_email": _("The hoster's e-mail address (may be empty)"),
    },
)
