"""``ronron members import FILE [--dry-run]`` and ``ronron members export [FILE]``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ronron.members.imports import ImportReport, export_members, import_members


def _plain(text: str) -> str:
    return text


class Command(BaseCommand):
    help = "Import or export the member file as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Import members from a CSV file (all or nothing).")
        imp.add_argument("file", help="CSV file, UTF-8, comma or semicolon separated")
        imp.add_argument(
            "--dry-run", action="store_true", help="Check the file and show what would change."
        )
        imp.add_argument("--user", help="Username recorded as the author in the audit log.")
        exp = sub.add_parser("export", help="Export every member as CSV.")
        exp.add_argument("file", nargs="?", help="Output file (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self.do_import(options["file"], dry_run=options["dry_run"], username=options["user"])
        else:
            self.do_export(options["file"])

    def do_import(self, file: str, *, dry_run: bool, username: str | None) -> None:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(file)s: %(reason)s") % {"file": file, "reason": exc.strerror}
            ) from exc
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username).first()
            if actor is None:
                raise CommandError(_("No user called %(name)s.") % {"name": username})
        report = import_members(data, actor=actor, dry_run=dry_run, progress=self._progress())
        self._clear_progress()
        self._print_report(report)
        if report.errors:
            raise CommandError(
                ngettext(
                    "Nothing was imported: the file has %(count)s error.",
                    "Nothing was imported: the file has %(count)s errors.",
                    len(report.errors),
                )
                % {"count": len(report.errors)},
                returncode=1,
            )

    def _progress(self) -> Any:
        if not self.stderr.isatty():
            return None

        def show(done: int, total: int, message: str) -> None:
            self.stderr.write(f"\r\x1b[K{done}/{total} {message}", _plain, ending="")
            self.stderr.flush()

        return show

    def _clear_progress(self) -> None:
        if self.stderr.isatty():
            self.stderr.write("\r\x1b[K", _plain, ending="")

    def _print_report(self, report: ImportReport) -> None:
        for error in report.errors:
            self.stderr.write(str(error))
        if report.errors:
            return
        created, updated = len(report.created), len(report.updated)
        unchanged = len(report.unchanged)
        # One plural per count: French agrees each participle with its own number.
        if report.dry_run:
            parts = [
                ngettext(
                    "%(count)s member would be created",
                    "%(count)s members would be created",
                    created,
                ),
                ngettext("%(count)s would be updated", "%(count)s would be updated", updated),
                ngettext(
                    "%(count)s would stay unchanged", "%(count)s would stay unchanged", unchanged
                ),
            ]
            self.stdout.write(
                _("Dry run, nothing was written: %(summary)s.")
                % {"summary": _join(parts, created, updated, unchanged)}
            )
        else:
            parts = [
                ngettext("%(count)s member created", "%(count)s members created", created),
                ngettext("%(count)s updated", "%(count)s updated", updated),
                ngettext("%(count)s unchanged", "%(count)s unchanged", unchanged),
            ]
            self.stdout.write(_join(parts, created, updated, unchanged) + ".")
        for outcome in report.rows:
            if outcome.action == "updated":
                self.stdout.write(
                    _("  %(number)s %(name)s: %(changes)s")
                    % {
                        "number": outcome.number,
                        "name": outcome.name,
                        "changes": ", ".join(outcome.changes),
                    }
                )

    def do_export(self, file: str | None) -> None:
        if file is None:
            buffer = io.StringIO()
            export_members(buffer)
            self.stdout.write(buffer.getvalue(), ending="")
            return
        try:
            with open(file, "w", encoding="utf-8", newline="") as out:
                export_members(out)
        except OSError as exc:
            raise CommandError(
                _("Cannot write %(file)s: %(reason)s") % {"file": file, "reason": exc.strerror}
            ) from exc


def _join(parts: list[str], *counts: int) -> str:
    return ", ".join(part % {"count": n} for part, n in zip(parts, counts, strict=True))
