"""``ronron plan [--server S] [--member M] [--format text|json]``: what an apply would change."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.reconcile.engine import compute_plan


class Command(BaseCommand):
    help = (
        "Show every step between the truth and what the servers hold, and what they hold that "
        "no service claims. Changes nothing. Exits with 1 when a server could not be checked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", help="Only this server (its name).")
        parser.add_argument("--member", help="Only the services of this member (its number).")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = compute_plan(server=options["server"], member=options["member"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(plan.to_json(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(plan.to_text(), ending="")
        if plan.errors:
            raise CommandError(_("Some services could not be checked (see above)."), returncode=1)
