"""``ronron adopt --server S --kind K NAME --member NUMBER [--domain D]``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.fleet.models import Server
from ronron.members.models import Member
from ronron.reconcile.actions import adopt_orphan


class Command(BaseCommand):
    help = "Attach something unmanaged found on a server to a member, as a managed service."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Its name on the server, as `ronron orphans` shows it.")
        parser.add_argument("--server", required=True)
        parser.add_argument("--kind", required=True)
        parser.add_argument("--member", required=True, help="The member's number.")
        parser.add_argument("--domain", default="", help="Its main domain name.")
        parser.add_argument("--user", help="Username recorded as the author in the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        server = Server.objects.filter(name=options["server"]).first()
        if server is None:
            raise CommandError(_("No server called %(name)s.") % {"name": options["server"]})
        member = Member.objects.filter(number=options["member"]).first()
        if member is None:
            raise CommandError(_("No member numbered %(number)s.") % {"number": options["member"]})
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(_("No user called %(name)s.") % {"name": options["user"]})
        try:
            service = adopt_orphan(
                actor=actor,
                server=server,
                kind=options["kind"],
                name=options["name"],
                member=member,
                domain=options["domain"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            _("%(name)s is now managed, for %(member)s.")
            % {"name": service.slug, "member": member.number}
        )
