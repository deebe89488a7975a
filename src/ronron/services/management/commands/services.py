"""``ronron services list|request|suspend|resume|remove|credentials``: managed services from the
command line, through the same actions as the console.

``credentials`` does its work here and now (not through the queue), so that whoever typed it
sees the outcome: a new password on the site, sent to a contact as a one-time link."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ronron.fleet.models import Server
from ronron.members.models import Member
from ronron.services import actions, handover
from ronron.services.forms import tech_email
from ronron.services.models import Service


def _problems(exc: ValidationError) -> str:
    """Every message, prefixed with the field it is about when there is one."""
    if hasattr(exc, "error_dict"):
        lines = []
        for field, errors in exc.error_dict.items():
            for error in errors:
                for message in error.messages:
                    lines.append(message if field == "__all__" else f"{field}: {message}")
        return "\n".join(lines)
    return "\n".join(exc.messages)


class Command(BaseCommand):
    help = (
        "List, request, suspend, resume or remove managed services; send new credentials to a "
        "member's contact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="List the managed services.")
        listing.add_argument("--member", help="Only this member's (its number).")
        listing.add_argument("--server", help="Only those on this server.")
        listing.add_argument("--all", action="store_true", help="Include removed services.")

        request = sub.add_parser("request", help="Record a new managed service.")
        request.add_argument("--member", required=True, help="The member's number.")
        request.add_argument("--kind", required=True, help="static, wordpress…")
        request.add_argument("--domain", required=True, help="Its main domain name.")
        request.add_argument(
            "--alias", action="append", default=[], help="Another name of the site (repeatable)."
        )
        request.add_argument("--server", help="Default: the server with the most room.")
        request.add_argument("--title", help="WordPress: the site's title.")
        request.add_argument(
            "--admin-email", help="WordPress: default, the member's technical contact."
        )
        request.add_argument("--admin-user", help="WordPress: the administrator's login.")
        request.add_argument("--user", help="Username recorded as the author in the audit log.")

        for verb, text in (
            ("suspend", "Suspend a service (its data stays)."),
            ("resume", "Resume a suspended service."),
            ("remove", "Remove a service (exported to a verified archive first)."),
            (
                "credentials",
                "Set a new administrator password and send it to a contact as a one-time link "
                "(the password and the link are never shown).",
            ),
        ):
            one = sub.add_parser(verb, help=text)
            one.add_argument("id", type=int, help="The service's number, as `list` shows it.")
            one.add_argument("--user", help="Username recorded as the author in the audit log.")
            if verb == "credentials":
                one.add_argument(
                    "--to",
                    metavar="EMAIL",
                    help="One of the member's contacts. Default: its technical contacts, or "
                    "else its president, or else its first contact.",
                )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self.do_list(options)
            return
        actor = self._actor(options.get("user"))
        try:
            if action == "request":
                self.do_request(options, actor)
            elif action == "credentials":
                self.do_credentials(self._service(options["id"]), actor, options.get("to"))
            else:
                verb = {
                    "suspend": (
                        actions.suspend_service,
                        _("Recorded: service %(id)s will be suspended at the next apply."),
                    ),
                    "resume": (
                        actions.resume_service,
                        _("Recorded: service %(id)s will be back at the next apply."),
                    ),
                    "remove": (
                        actions.remove_service,
                        _(
                            "Recorded: service %(id)s will be archived, the archive verified, "
                            "then removed at the next apply."
                        ),
                    ),
                }[action]
                service = verb[0](self._service(options["id"]), actor=actor)
                self.stdout.write(verb[1] % {"id": service.pk})
        except ValidationError as exc:
            raise CommandError(_problems(exc), returncode=1) from exc

    # --- helpers --------------------------------------------------------------------------------

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        actor = get_user_model().objects.filter(username=username).first()
        if actor is None:
            raise CommandError(_("No user called %(name)s.") % {"name": username})
        return actor

    def _service(self, pk: int) -> Service:
        service = Service.objects.filter(pk=pk, managed=True).select_related("member").first()
        if service is None:
            raise CommandError(_("No managed service numbered %(id)s.") % {"id": pk})
        return service

    # --- subcommands ----------------------------------------------------------------------------

    def do_list(self, options: dict[str, Any]) -> None:
        services = Service.objects.filter(managed=True).select_related("member", "server")
        if not options["all"]:
            services = services.filter(removed_at__isnull=True)
        if options["member"]:
            services = services.filter(member__number=options["member"])
        if options["server"]:
            services = services.filter(server__name=options["server"])
        rows = [
            (
                str(s.pk),
                s.member.number,
                s.kind,
                s.domain or "-",
                s.server.name if s.server else "-",
                "removed" if s.removed_at else s.wanted_state,
                s.observed_state,
            )
            for s in services.order_by("member__number", "pk")
        ]
        if not rows:
            self.stdout.write(_("No managed service."))
            return
        header = ("ID", "MEMBER", "KIND", "DOMAIN", "SERVER", "WANTED", "OBSERVED")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            )

    def do_request(self, options: dict[str, Any], actor: Any) -> None:
        member = Member.objects.filter(number=options["member"]).first()
        if member is None:
            raise CommandError(_("No member numbered %(number)s.") % {"number": options["member"]})
        server = None
        if options["server"]:
            server = Server.objects.filter(name=options["server"]).first()
            if server is None:
                raise CommandError(_("No server called %(name)s.") % {"name": options["server"]})
        spec: dict[str, Any] = {}
        if options["alias"]:
            spec["aliases"] = options["alias"]
        for key in ("title", "admin_email", "admin_user"):
            if options.get(key):
                spec[key] = options[key]
        if options["kind"] == "wordpress" and "admin_email" not in spec:
            email = tech_email(member)
            if email:
                spec["admin_email"] = email
        service = actions.request_service(
            member,
            actor=actor,
            kind=options["kind"],
            domain=options["domain"],
            spec=spec,
            server=server,
        )
        self.stdout.write(
            _(
                "Recorded: service %(id)s, %(domain)s on %(server)s (system name %(slug)s). "
                "It will be created at the next apply (`ronron apply --member %(member)s`)."
            )
            % {
                "id": service.pk,
                "domain": service.domain,
                "server": service.server.name if service.server else "-",
                "slug": service.slug,
                "member": member.number,
            }
        )

    def do_credentials(self, service: Service, actor: Any, recipient: str | None) -> None:
        recipients = handover.check_renewal(service, recipient)
        try:
            result = handover.renew_credentials(service.pk, recipients, actor=actor)
        except handover.RenewalFailed as exc:
            raise CommandError(str(exc), returncode=1) from None
        for delivery in result.deliveries:
            self.stdout.write(
                _("New credentials sent to %(recipient)s: the link is valid until %(expires)s.")
                % {
                    "recipient": delivery.recipient,
                    "expires": date_format(
                        timezone.localtime(delivery.expires_at), "DATETIME_FORMAT"
                    ),
                }
            )
        for problem in result.problems:
            self.stderr.write(problem)
