"""Messages of the dues follow-up (members/dues_reminders.py)."""

from datetime import date
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from ronron.core import mail

VARIABLES = {
    "member_name": _("Name of the member"),
    "member_number": _("Member number"),
    "year": _("Year of the dues"),
    "amount": _("Amount of the dues"),
    "called_on": _("When the dues were called (a date)"),
    "reminder_date": _("The reminder date of that year (a date)"),
    "cutoff_date": _("The cut-off date of that year (a date)"),
    "portal_url": _("Link to the member portal"),
}
SAMPLE = {
    "member_name": "Les Amis du Vélo",
    "member_number": "A0202",
    "year": 2027,
    "amount": Decimal("30.00"),
    "called_on": date(2026, 12, 1),
    "reminder_date": date(2027, 6, 1),
    "cutoff_date": date(2027, 9, 1),
    "portal_url": "https://ronron.example.org/portal/",
}

mail.register("dues.call", _("Dues called (to the treasurer)"), VARIABLES, sample=SAMPLE)
mail.register("dues.reminder", _("Dues reminder (to the treasurer)"), VARIABLES, sample=SAMPLE)
mail.register(
    "dues.cutoff", _("Dues unpaid at the cut-off (to the treasurer)"), VARIABLES, sample=SAMPLE
)
mail.register(
    "dues.suspended",
    _("Services suspended for unpaid dues (to the treasurer)"),
    VARIABLES,
    sample=SAMPLE,
)
