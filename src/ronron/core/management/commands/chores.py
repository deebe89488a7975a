"""``ronron chores``: the periodic chores and when they last ran; ``ronron chores run [NAME…]``
runs them now (the named ones, or every one), whether due or not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from ronron.core import chores
from ronron.core.models import Chore


class Command(BaseCommand):
    help = "List the periodic chores, or run them now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["list", "run"], default="list")
        parser.add_argument("names", nargs="*", help="Chores to run (default: every one).")
        parser.add_argument(
            "--now", help="Run as if it were this time (ISO 8601, for tests and catching up)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chores._load_registrations()
        if options["action"] == "list":
            last = {c.name: c for c in Chore.objects.all()}
            for name, chore in sorted(chores.CHORES.items()):
                row = last.get(name)
                when = (
                    row.last_run_at.isoformat(timespec="seconds")
                    if row and row.last_run_at
                    else "-"
                )
                self.stdout.write(f"{name}\t{chore.every}\t{when}")
            return
        now = self._now(options["now"])
        unknown = [n for n in options["names"] if n not in chores.CHORES]
        if unknown:
            raise CommandError(_("Unknown chore: %(names)s.") % {"names": ", ".join(unknown)})
        for name in options["names"] or sorted(chores.CHORES):
            result = chores.CHORES[name].run(now)
            Chore.objects.update_or_create(
                name=name, defaults={"last_run_at": now, "last_result": result, "last_error": ""}
            )
            self.stdout.write(f"{name}: {result}")

    @staticmethod
    def _now(value: str | None) -> datetime:
        if not value:
            return timezone.now()
        parsed = parse_datetime(value)
        if parsed is None:
            raise CommandError(_("--now: expected a date and time such as 2027-01-21T08:00."))
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
