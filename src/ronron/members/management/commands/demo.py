import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.core.models import AuditEntry
from ronron.members.demo import DEFAULT_MEMBERS, DEFAULT_SEED, DatabaseNotEmpty, load_demo
from ronron.members.models import Contact, Member, Membership
from ronron.services.kinds import FAMILIES
from ronron.services.models import Service


class Command(BaseCommand):
    help = _(
        "Load a fictional but realistic hoster (about 150 members with their contacts, three "
        "years of dues and their services) so that the console has something to show."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--members",
            type=int,
            default=DEFAULT_MEMBERS,
            help=_("How many fictional members to create (default: %(default)s)."),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=_("The same seed gives the same members on the same day (default: %(default)s)."),
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Add the fictional members even if the database already has members."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["members"]
        if not 1 <= count <= 10000:
            raise CommandError(_("--members must be between 1 and 10000."))
        audit_before = AuditEntry.objects.count()
        started = time.monotonic()
        try:
            loaded = load_demo(count=count, seed=options["seed"], force=options["force"])
        except DatabaseNotEmpty as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.monotonic() - started
        self.summarise(loaded, elapsed, AuditEntry.objects.count() - audit_before)

    def summarise(self, loaded: list[Member], elapsed: float, audit_entries: int) -> None:
        members = Member.objects.filter(pk__in=[m.pk for m in loaded])
        write = self.stdout.write
        write(
            _("%(count)d fictional members loaded in %(seconds).1f s.")
            % {"count": len(loaded), "seconds": elapsed}
        )
        by_kind = Counter(members.values_list("kind", flat=True))
        write("  " + ", ".join(f"{label}: {by_kind[k]}" for k, label in Member.Kind.choices))
        by_status = Counter(members.values_list("status", flat=True))
        write(
            "  "
            + ", ".join(
                f"{label}: {by_status[s]}" for s, label in Member.Status.choices if by_status[s]
            )
        )
        contacts = Contact.objects.filter(member__in=members).count()
        write(_("Contacts: %(count)d") % {"count": contacts})
        write(_("Memberships (dues paid / unpaid):"))
        years: dict[int, Counter[bool]] = {}
        for year, paid_on in Membership.objects.filter(member__in=members).values_list(
            "year", "paid_on"
        ):
            years.setdefault(year, Counter())[paid_on is not None] += 1
        for year, paid in sorted(years.items()):
            write(
                "  "
                + _("%(year)d: %(paid)d paid, %(unpaid)d unpaid")
                % {"year": year, "paid": paid[True], "unpaid": paid[False]}
            )
        families = Counter(
            Service.objects.filter(member__in=members).values_list("family", flat=True)
        )
        write(
            _("Services: %(count)d") % {"count": families.total()}
            + " ("
            + ", ".join(f"{FAMILIES[f]}: {n}" for f, n in sorted(families.items()))
            + ")"
        )
        write(_("Audit entries written: %(count)d") % {"count": audit_entries})
