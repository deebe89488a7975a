"""``ronron servers nextcloud NAME --url URL --user LOGIN``: how Ronron logs into a server's
Nextcloud. The app password is read from standard input (a pipe) or asked on the terminal,
never taken from the command line, where other users of the machine could read it."""

from __future__ import annotations

import getpass
import sys
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.fleet.models import Server
from ronron.fleet.nextcloud_access import set_nextcloud_access


class Command(BaseCommand):
    help = _("Settings of the servers Ronron manages.")
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        nextcloud = sub.add_parser(
            "nextcloud",
            help=_(
                "Give the address of the server's Nextcloud and the administrator Ronron logs "
                "in as; the app password is read from standard input. Nextcloud is asked once "
                "to check them, and a refused login is not stored."
            ),
        )
        nextcloud.add_argument("server", help=_("The server's name in Ronron."))
        nextcloud.add_argument("--url", required=True, help=_("Such as https://cloud.example.org"))
        nextcloud.add_argument("--user", required=True, help=_("The administrator's login."))

    def handle(self, *args: Any, **options: Any) -> None:
        server = Server.objects.filter(name=options["server"]).first()
        if server is None:
            raise CommandError(
                _("There is no server called %(name)s.") % {"name": options["server"]}
            )
        stream: IO[str] = options.get("stdin") or sys.stdin
        if stream.isatty():
            password = getpass.getpass(_("App password: "))
        else:
            password = stream.read().removesuffix("\n")
        try:
            set_nextcloud_access(
                server, actor=None, url=options["url"], user=options["user"], password=password
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            _("Ronron now logs into the Nextcloud of %(server)s as %(user)s.")
            % {"server": server.name, "user": options["user"]}
        )
