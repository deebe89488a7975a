"""``ronron api token USERNAME [--rotate | --revoke]``: API tokens for the hoster's admins."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.api import actions


class Command(BaseCommand):
    help = "Manage the JSON API: give a user an API token (printed once), rotate or revoke it."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True)
        token = commands.add_parser(
            "token",
            help="Create the API token of a user and print it (only this once).",
        )
        token.add_argument("username")
        what = token.add_mutually_exclusive_group()
        what.add_argument(
            "--rotate",
            action="store_true",
            help="Replace the user's token: the old one stops working at once.",
        )
        what.add_argument(
            "--revoke", action="store_true", help="Delete the user's token without a new one."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "token":
            self._token(options["username"], rotate=options["rotate"], revoke=options["revoke"])

    def _token(self, username: str, *, rotate: bool, revoke: bool) -> None:
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(username)
        except User.DoesNotExist as exc:
            raise CommandError(_("No user named %(user)s.") % {"user": username}) from exc
        if revoke:
            if actions.revoke_token(user, actor=None):
                self.stdout.write(_("The API token of %(user)s is revoked.") % {"user": username})
            else:
                self.stdout.write(_("%(user)s had no API token.") % {"user": username})
            return
        try:
            key = actions.issue_token(user, actor=None, rotate=rotate)
        except ValidationError as exc:
            hint = _("Use --rotate to replace it.") if exc.code == "token_exists" else ""
            raise CommandError(" ".join([*exc.messages, hint]).strip()) from exc
        if not (user.is_active and user.is_staff):
            self.stderr.write(
                _(
                    "Note: %(user)s is not an active staff user; the API will refuse this "
                    "token until they are."
                )
                % {"user": username}
            )
        # The key goes to stdout alone, so that a script can capture it.
        self.stdout.write(key)
