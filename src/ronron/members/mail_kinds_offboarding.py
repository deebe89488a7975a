"""Messages of a departure (members/offboarding.py)."""

from datetime import UTC, date, datetime

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

mail.register(
    "offboarding.notice_received",
    _("Notice of departure received (to the member)"),
    {
        "member_name": _("Name of the member"),
        "member_number": _("Member number"),
        "given_on": _("The day the notice was given"),
        "deadline": _("This year's notice deadline"),
        "in_time": _("Whether the notice came by the deadline (true or false)"),
        "last_day": _("The last day of membership"),
        "leave_on": _("The first day without membership: the services are suspended"),
        "year": _("The year of the notice (its dues are spared when in time, owed when late)"),
        "remove_services_on": _("When the services will be removed"),
        "erase_on": _("When the personal data will be erased"),
        "departure_url": _("Link to the departure page of the member portal"),
    },
    sample={
        "member_name": "Les Amis du Vélo",
        "member_number": "A0202",
        "given_on": date(2027, 1, 12),
        "deadline": date(2027, 1, 20),
        "in_time": True,
        "last_day": date(2027, 1, 12),
        "leave_on": date(2027, 1, 13),
        "year": 2027,
        "remove_services_on": date(2027, 4, 13),
        "erase_on": date(2028, 1, 13),
        "departure_url": "https://ronron.example.org/portal/A0202/departure/",
    },
)
mail.register(
    "offboarding.export_ready",
    _("Export of all the data ready (to the departing member)"),
    {
        "member_name": _("Name of the member"),
        "member_number": _("Member number"),
        "link": _("The download link"),
        "expires_at": _("When the link stops working (a date and time)"),
        "size_mb": _("Size of the file, in megabytes"),
        "services": _("How many services' archives the file holds"),
    },
    sample={
        "member_name": "Les Amis du Vélo",
        "member_number": "A0202",
        "link": "https://ronron.example.org/portal/A0202/departure/export/exemple-de-jeton/",
        "expires_at": datetime(2027, 2, 11, 9, 30, tzinfo=UTC),
        "size_mb": 42,
        "services": 2,
    },
)
