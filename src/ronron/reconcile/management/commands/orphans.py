"""``ronron orphans [--server S] [--format text|json]``: what no service claims."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.reconcile.engine import compute_plan


class Command(BaseCommand):
    help = (
        "List what the drivers find on the servers that no service claims. Ronron never "
        "changes those; `ronron adopt` attaches one to a member."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", help="Only this server (its name).")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = compute_plan(server=options["server"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(plan.to_json()["orphans"], indent=2, ensure_ascii=False))
        elif not plan.orphans:
            self.stdout.write(_("Nothing unmanaged found."))
        else:
            for o in plan.orphans:
                self.stdout.write(
                    f"{o.server.name}\t{o.orphan.kind}\t{o.orphan.resource}\t{o.orphan.name}"
                )
        if plan.errors:
            for e in plan.errors:
                self.stderr.write(f"{e.server}: {e.message}")
            raise CommandError(_("Some servers could not be checked."), returncode=1)
