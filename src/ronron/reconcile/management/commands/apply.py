"""``ronron apply [--server S] [--member M] [--yes]``: run the plan here, with its progress."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.reconcile.actions import create_run
from ronron.reconcile.engine import apply_plan, compute_plan
from ronron.reconcile.models import Run, RunStep


def _plain(text: str) -> str:
    return text


class Command(BaseCommand):
    help = (
        "Show the plan, then make it real, step by step, keeping a journal. Asks first on a "
        "terminal (unless --yes). Exits with 1 when a step failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", help="Only this server (its name).")
        parser.add_argument("--member", help="Only the services of this member (its number).")
        parser.add_argument("--yes", action="store_true", help="Apply without asking.")
        parser.add_argument("--user", help="Username recorded as the author in the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        server, member = options["server"], options["member"]
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(_("No user called %(name)s.") % {"name": options["user"]})
        plan = compute_plan(server=server, member=member)
        self.stdout.write(plan.to_text(), ending="")
        if plan.nothing_to_do:
            if plan.errors:
                raise CommandError(_("Some services could not be checked."), returncode=1)
            return
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(
                    _("Not on a terminal: add --yes to apply without being asked."), returncode=2
                )
            answer = input(_("Apply these changes? [y/N] ")).strip().lower()
            if answer not in {"y", "yes", "o", "oui"}:
                self.stdout.write(_("Nothing was changed."))
                return
        run = create_run(actor=actor, server=server, member=member)
        run = apply_plan(run.pk, self._progress)
        self._summary(run)
        if run.status != Run.Status.SUCCEEDED:
            raise CommandError(
                _("The run %(number)s failed; its journal says why.") % {"number": run.pk},
                returncode=1,
            )

    def _progress(self, done: int, total: int, message: str) -> None:
        if done < total:
            self.stdout.write(f"[{done + 1}/{total}] {message}", _plain)
            self.stdout.flush()

    def _summary(self, run: Run) -> None:
        for step in run.steps.exclude(status=RunStep.Status.DONE):
            self.stdout.write(
                f"{step.get_status_display()}: {step.service_label} — {step.description}", _plain
            )
            if step.output and step.status == RunStep.Status.FAILED:
                self.stdout.write("    " + step.output.replace("\n", "\n    "), _plain)
        if run.error:
            self.stdout.write(run.error, _plain)
        self.stdout.write(
            _("Run %(number)s: %(status)s.")
            % {"number": run.pk, "status": run.get_status_display()}
        )
