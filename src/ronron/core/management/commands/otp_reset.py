"""``ronron otp_reset USERNAME``: turn two-step login off for someone who lost their phone.

Run on the server by whoever administers it; that access is the proof of authority, as for
``createadmin``. The change is audited like every other.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.core.actions import reset_second_factor


class Command(BaseCommand):
    help = _(
        "Turn two-step login off for an account (a lost phone). The person sets up a new "
        "authenticator app at the next login."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help=_("The login name of the account."))

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"]
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist as exc:
            raise CommandError(_("No user called %(name)s.") % {"name": username}) from exc
        # No logged-in person behind a command: the audit entry has no actor, like createadmin.
        removed = reset_second_factor(user, actor=None)
        if removed:
            self.stdout.write(
                _(
                    "Two-step login is off for %(name)s. They can log in with their password "
                    "and set up their app again."
                )
                % {"name": username}
            )
        else:
            self.stdout.write(
                _("%(name)s has no two-step login: nothing to do.") % {"name": username}
            )
