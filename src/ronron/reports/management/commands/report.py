"""``ronron report YEAR [--format html|pdf|json|csv] [--home-commune "31520 Ville"]
[--output FILE] [--language fr|en]``: the general-assembly report of a year."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from ronron.config import ConfigError, parse_home_commune
from ronron.reports.figures import ReportError, build_report
from ronron.reports.render import FORMATS, render, write_atomically


class Command(BaseCommand):
    help = (
        "Write the general-assembly report of YEAR: members, arrivals and departures, growth, "
        "services, régions, themes, and the same figures for earlier years."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("year", type=int, help="The year of the report, e.g. 2025.")
        parser.add_argument("--format", choices=FORMATS, default="html")
        parser.add_argument(
            "--home-commune",
            help='The hoster\'s commune, postal code then name: "31520 Ramonville-Saint-Agne" '
            "(default: the home_commune setting).",
        )
        parser.add_argument("--output", help="File to write (default: standard output).")
        parser.add_argument(
            "--language", choices=["fr", "en"], help="Language of the report (default: setting)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        home = None
        if options["home_commune"] is not None:
            try:
                home = parse_home_commune(options["home_commune"], "--home-commune")
            except ConfigError as exc:
                raise CommandError(str(exc)) from exc
        output = Path(options["output"]) if options["output"] else None
        if output is not None and not output.parent.is_dir():
            raise CommandError(
                _("The folder %(folder)s does not exist.") % {"folder": output.parent}
            )
        with translation.override(options["language"] or settings.LANGUAGE_CODE):
            try:
                report = build_report(
                    options["year"], home, home_from_settings=options["home_commune"] is None
                )
            except ReportError as exc:
                raise CommandError(str(exc)) from exc
            data = render(report, options["format"])
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        try:
            write_atomically(output, data)
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(file)s: %(reason)s") % {"file": output, "reason": exc.strerror}
            ) from exc
        self.stderr.write(_("Report written to %(file)s.") % {"file": output})
