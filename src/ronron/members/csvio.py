"""Member CSV files: read, check and write. No database writes here.

The reader takes the bytes of a file as people really send them (a spreadsheet's "save as CSV":
comma or semicolon, a BOM, Windows line endings, trailing spaces, empty lines, French headers)
and returns clean rows plus every error found, each with its line (1 is the header line) and the
column as written in the file, so that one pass tells the volunteer everything to fix.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ronron.members.actions import french_postal_code_error, normalize_number
from ronron.members.models import Contact, Member
from ronron.services import kinds

# The columns, in the order an export writes them.
COLUMNS = (
    "number",
    "kind",
    "name",
    "postal_code",
    "city",
    "country",
    "themes",
    "joined_on",
    "left_on",
    "services",
    "contact_name",
    "contact_email",
    "contact_role",
)
REQUIRED = ("number", "kind", "name")

# Header names are compared after folding (see _fold_header): case, accents, spaces and hyphens
# do not matter, so "Code postal", "code-postal" and "CODE_POSTAL" are one column.
ALIASES = {
    "numero": "number",
    "type": "kind",
    "nom": "name",
    "code_postal": "postal_code",
    "ville": "city",
    "pays": "country",
    "thematiques": "themes",
    "date_adhesion": "joined_on",
    "date_depart": "left_on",
    "contact_nom": "contact_name",
    "contact_courriel": "contact_email",
    "contact_roles": "contact_role",
}

KIND_ALIASES = {
    "association": Member.Kind.ASSOCIATION,
    "asso": Member.Kind.ASSOCIATION,
    "collective": Member.Kind.COLLECTIVE,
    "collectif": Member.Kind.COLLECTIVE,
    "individual": Member.Kind.INDIVIDUAL,
    "individu": Member.Kind.INDIVIDUAL,
    "individuel": Member.Kind.INDIVIDUAL,
    "individuelle": Member.Kind.INDIVIDUAL,
    "particulier": Member.Kind.INDIVIDUAL,
    "personne": Member.Kind.INDIVIDUAL,
    "personne physique": Member.Kind.INDIVIDUAL,
}

ROLE_ALIASES = {
    "president": Contact.Role.PRESIDENT,
    "presidente": Contact.Role.PRESIDENT,
    "president(e)": Contact.Role.PRESIDENT,
    "treasurer": Contact.Role.TREASURER,
    "tresorier": Contact.Role.TREASURER,
    "tresoriere": Contact.Role.TREASURER,
    "tresorier(e)": Contact.Role.TREASURER,
    "secretary": Contact.Role.SECRETARY,
    "secretaire": Contact.Role.SECRETARY,
    "tech": Contact.Role.TECH,
    "technical": Contact.Role.TECH,
    "technical contact": Contact.Role.TECH,
    "technique": Contact.Role.TECH,
    "contact technique": Contact.Role.TECH,
    "technicien": Contact.Role.TECH,
    "technicienne": Contact.Role.TECH,
    "billing": Contact.Role.BILLING,
    "billing contact": Contact.Role.BILLING,
    "facturation": Contact.Role.BILLING,
    "contact facturation": Contact.Role.BILLING,
    "comptabilite": Contact.Role.BILLING,
}

LIST_SEPARATOR = re.compile(r"[;,]")
_EDGE_SPACE = re.compile(r"^[^\S\r\n]+|[^\S\r\n]+$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FRENCH_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
# Spreadsheets run cells starting with these as formulas; exports quote them with an apostrophe
# (the spreadsheet convention) and imports take it away again, so a file round-trips.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The csv module's cell limit (131 072 characters) fails with English text and no column; the
# file is in memory anyway, so the limit is lifted and cells measured here, with line and
# column. No column holds anything near this long: it is nearly always a quote never closed.
MAX_CELL_CHARS = 10_000
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header line; 0 when the whole file is concerned
    column: str  # as written in the file's header; "" when the whole line is concerned
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        if self.line and self.column:
            return _("line %(line)s, column %(column)s: %(message)s") % self.as_dict()
        if self.line:
            return _("line %(line)s: %(message)s") % self.as_dict()
        return self.message


@dataclass
class MemberRow:
    line: int
    number: str
    kind: str
    name: str
    postal_code: str = ""
    city: str = ""
    country: str = "FR"
    themes: list[str] = field(default_factory=list)  # theme slugs, sorted
    joined_on: date | None = None
    left_on: date | None = None
    services: list[tuple[str, str]] = field(default_factory=list)  # (kind, family), sorted
    contact_name: str = ""  # "" when the cell is empty
    contact_email: str = ""
    contact_roles: list[str] = field(default_factory=list)  # Contact.Role values, sorted


@dataclass
class ParsedFile:
    rows: list[MemberRow]
    errors: list[RowError]
    columns: frozenset[str]  # the canonical columns the file has
    delimiter: str = ","
    header_of: dict[str, str] = field(default_factory=dict)  # column → as written in the file

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int, str], None]


def fold(text: str) -> str:
    """Lower case without accents: how people's spellings of one word are compared."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _fold_header(name: str) -> str:
    return re.sub(r"[\s\-']+", "_", fold(name))


def canonical_column(name: str) -> str | None:
    folded = _fold_header(name)
    if folded in COLUMNS:
        return folded
    return ALIASES.get(folded)


def _decode(data: bytes) -> tuple[str, RowError | None]:
    if data.startswith(b"PK\x03\x04"):  # .xlsx and .ods files are zip archives
        return "", RowError(
            0,
            "",
            _(
                "This is a spreadsheet file, not a CSV file. In your spreadsheet, choose "
                "“Save as…”, then the CSV format with the UTF-8 character set, and import "
                "the new file."
            ),
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return "", RowError(
            line,
            "",
            _(
                "This file is not in UTF-8 (the first unreadable character is on this line). "
                "In your spreadsheet, choose “Save as…”, then the CSV format with the UTF-8 "
                "character set, and import the new file."
            ),
        )
    return text, None


def _detect_delimiter(text: str) -> str:
    """Comma or semicolon, whichever the header line uses most (header names contain neither)."""
    for line in io.StringIO(text):
        if line.strip():
            return ";" if line.count(";") > line.count(",") else ","
    return ","


def _clean_text(value: str) -> str:
    value = _EDGE_SPACE.sub("", value)
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        value = value[1:]
    return value


class _RowChecker:
    """Checks the cells of one row; collects the errors against the file's own column names."""

    def __init__(
        self, line: int, header_of: dict[str, str], errors: list[RowError], lookups: _Lookups
    ) -> None:
        self.line = line
        self.header_of = header_of
        self.errors = errors
        self.themes = lookups.themes
        self.roles = lookups.roles
        self.failed = False

    def error(self, column: str, message: str) -> None:
        self.failed = True
        self.errors.append(RowError(self.line, self.header_of.get(column, column), message))

    def model_field(self, model: type[Any], column: str, name: str, value: str) -> str:
        try:
            return str(model._meta.get_field(name).clean(value, None))
        except ValidationError as exc:
            # One message per cell. A value that breaks a rule usually breaks the length limit
            # too; the rule says more ("Use a two-letter ISO country code.").
            errors = exc.error_list
            best = next((e for e in errors if e.code != "max_length"), errors[0])
            self.error(column, ValidationError([best]).messages[0])
            return value

    def kind(self, value: str) -> str:
        kind = KIND_ALIASES.get(fold(value))
        if kind is None:
            if not value:
                self.error("kind", _("The kind is missing."))
            else:
                self.error(
                    "kind",
                    _("Unknown kind “%(value)s”. Write association, collective or individual.")
                    % {"value": value},
                )
            return value
        return str(kind)

    def country(self, value: str) -> str:
        value = value.upper() or "FR"
        if value == "FRANCE":
            value = "FR"
        return self.model_field(Member, "country", "country", value)

    def date(self, column: str, value: str) -> date | None:
        if not value:
            return None
        iso = _ISO_DATE.fullmatch(value)
        french = _FRENCH_DATE.fullmatch(value)
        try:
            if iso:
                return date(int(iso[1]), int(iso[2]), int(iso[3]))
            if french:
                suggestion = date(int(french[3]), int(french[2]), int(french[1])).isoformat()
                self.error(
                    column,
                    _(
                        "“%(value)s” is not in the expected date format YYYY-MM-DD "
                        "(year-month-day): write %(suggestion)s."
                    )
                    % {"value": value, "suggestion": suggestion},
                )
                return None
        except ValueError:
            self.error(column, _("“%(value)s” is not a valid date.") % {"value": value})
            return None
        self.error(
            column,
            _(
                "“%(value)s” is not in the expected date format YYYY-MM-DD "
                "(year-month-day, for example 2024-09-15)."
            )
            % {"value": value},
        )
        return None

    def theme_list(self, value: str) -> list[str]:
        slugs: set[str] = set()
        for token in _tokens(value):
            slug = (
                self.themes.get(token.casefold())
                or self.themes.get(fold(token))
                or self.themes.get(slugify(token))
            )
            if slug is None:
                known = ", ".join(sorted(set(self.themes.values())))
                self.error(
                    "themes",
                    _("Unknown theme “%(value)s”. Known themes: %(known)s.")
                    % {"value": token, "known": known},
                )
            else:
                slugs.add(slug)
        return sorted(slugs)

    def service_list(self, value: str) -> list[tuple[str, str]]:
        services = []
        for token in _tokens(value):
            resolved = kinds.resolve(token)
            if resolved is None:
                self.error(
                    "services",
                    _(
                        "Unknown service “%(value)s”. Write a family (%(families)s) "
                        "or a kind (%(kinds)s)."
                    )
                    % {
                        "value": token,
                        "families": ", ".join(kinds.FAMILIES),
                        "kinds": ", ".join(kinds.KINDS),
                    },
                )
            else:
                services.append(resolved)
        return sorted(services)

    def role_list(self, value: str) -> list[str]:
        roles: set[str] = set()
        for token in _tokens(value):
            role = self.roles.get(fold(token))
            if role is None:
                self.error(
                    "contact_role",
                    _("Unknown role “%(value)s”. Known roles: %(known)s.")
                    % {
                        "value": token,
                        "known": ", ".join(str(label).lower() for label in Contact.Role.labels),
                    },
                )
            else:
                roles.add(str(role))
        return sorted(roles)


def _tokens(value: str) -> list[str]:
    return [t.strip() for t in LIST_SEPARATOR.split(value) if t.strip()]


@dataclass(frozen=True)
class _Lookups:
    themes: dict[str, str]  # any spelling → slug
    roles: dict[str, str]  # any spelling → Contact.Role value


def role_lookup() -> dict[str, str]:
    """Role codes, French and English words, and the labels in the active language."""
    lookup = {fold(key): str(value) for key, value in ROLE_ALIASES.items()}
    for value, label in Contact.Role.choices:
        lookup.setdefault(value, value)
        lookup.setdefault(fold(str(label)), value)
    return lookup


def theme_lookup(themes: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Every spelling of a theme people may write (slug, name in any case or accent) → slug."""
    lookup: dict[str, str] = {}
    for slug, name in themes:
        for key in (fold(name), slugify(name), slug.casefold()):
            lookup.setdefault(key, slug)
    return lookup


def _read_header(
    line: int, header: list[str], errors: list[RowError]
) -> tuple[list[str | None], dict[str, str]]:
    """The canonical column of each position (None: ignored) and the written name of each."""
    positions: list[str | None] = []
    header_of: dict[str, str] = {}
    for raw in header:
        written = _clean_text(raw)
        if not written:
            positions.append(None)
            continue
        column = canonical_column(written)
        if column is None:
            errors.append(
                RowError(
                    line,
                    written,
                    _("Unknown column “%(column)s”. The columns are: %(known)s.")
                    % {"column": written, "known": ", ".join(COLUMNS)},
                )
            )
            positions.append(None)
        elif column in header_of:
            errors.append(
                RowError(
                    line,
                    written,
                    _("The column “%(column)s” is already given as “%(other)s”.")
                    % {"column": written, "other": header_of[column]},
                )
            )
            positions.append(None)
        else:
            header_of[column] = written
            positions.append(column)
    for column in REQUIRED:
        if column not in header_of:
            errors.append(
                RowError(
                    line,
                    column,
                    _("The column “%(column)s” is missing; it is required.") % {"column": column},
                )
            )
    return positions, header_of


def parse_members(
    data: bytes, *, themes: Iterable[tuple[str, str]], progress: Progress | None = None
) -> ParsedFile:
    """Read and check a member file. ``themes`` are the known (slug, name) pairs."""
    text, decode_error = _decode(data)
    if decode_error is not None:
        return ParsedFile([], [decode_error], frozenset())
    if not text.strip():
        return ParsedFile([], [RowError(0, "", _("The file is empty."))], frozenset())
    delimiter = _detect_delimiter(text)
    errors: list[RowError] = []
    # Every record with the physical line it starts on: quoted cells may span several lines.
    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous_end = 0
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append((previous_end + 1, record))
            previous_end = reader.line_num
    except csv.Error:  # not expected from a lenient reader; its own text is English-only
        message = _('This line cannot be read as CSV: check the quotes (") around its values.')
        return ParsedFile([], [RowError(previous_end + 1, "", message)], frozenset(), delimiter)
    if not records:
        return ParsedFile([], [RowError(0, "", _("The file is empty."))], frozenset(), delimiter)
    header_line, header = records[0]
    too_long = [i + 1 for i, cell in enumerate(header) if len(cell) > MAX_CELL_CHARS]
    if too_long:
        found = [RowError(header_line, "", _too_long(i)) for i in too_long]
        return ParsedFile([], found, frozenset(), delimiter)
    positions, header_of = _read_header(header_line, header, errors)
    if errors:
        return ParsedFile([], errors, frozenset(header_of), delimiter)
    lookups = _Lookups(theme_lookup(themes), role_lookup())
    rows: list[MemberRow] = []
    lines_of: dict[str, list[int]] = defaultdict(list)
    total = len(records) - 1
    for index, (line, record) in enumerate(records[1:]):
        if progress is not None and index % 200 == 0:
            progress(index, total, _("Checking line %(line)s") % {"line": line})
        row, number = _parse_row(line, record, positions, header_of, errors, lookups)
        if number:
            lines_of[number].append(line)
        if row is not None:
            rows.append(row)
    _check_duplicates(lines_of, rows, header_of, errors)
    if progress is not None:
        progress(total, total, _("File checked"))
    errors.sort(key=lambda e: e.line)
    return ParsedFile(rows, errors, frozenset(header_of), delimiter, header_of)


def _too_long(position: int) -> str:
    return _(
        'The value in column %(position)s is longer than %(limit)s characters. Is a quote (") '
        "opened and never closed?"
    ) % {"position": position, "limit": f"{MAX_CELL_CHARS:,}".replace(",", " ")}


def _parse_row(
    line: int,
    record: list[str],
    positions: list[str | None],
    header_of: dict[str, str],
    errors: list[RowError],
    lookups: _Lookups,
) -> tuple[MemberRow | None, str]:
    check = _RowChecker(line, header_of, errors, lookups)
    if any(cell.strip() for cell in record[len(positions) :]):
        check.error(
            "",
            _(
                "This line has more values than the header line has columns "
                "(a separator too many, or a value that should be in quotes?)."
            ),
        )
    cells: dict[str, str] = {}
    oversized = False
    for position, column in enumerate(positions):
        value = _clean_text(record[position]) if position < len(record) else ""
        if len(value) > MAX_CELL_CHARS:
            check.error(column or "", _too_long(position + 1))
            oversized = True
        elif column is not None:
            cells[column] = value
        elif value:
            check.error(
                "",
                _("Column %(position)s has a value but no name in the header line.")
                % {"position": position + 1},
            )
    if oversized:  # the other checks would only quote the huge cell or call it missing
        return None, ""

    def text(column: str, model: type[Any] = Member, name: str | None = None) -> str:
        return check.model_field(model, column, name or column, cells.get(column, ""))

    number = normalize_number(text("number"))
    name = text("name")
    row = MemberRow(line=line, number=number, kind=check.kind(cells.get("kind", "")), name=name)
    row.country = check.country(cells.get("country", ""))
    row.postal_code = text("postal_code")
    if row.country == "FR":
        row.postal_code = row.postal_code.replace(" ", "")
    if postal_code_error := french_postal_code_error(row.country, row.postal_code):
        check.error("postal_code", postal_code_error)
    row.city = text("city")
    row.themes = check.theme_list(cells.get("themes", ""))
    row.joined_on = check.date("joined_on", cells.get("joined_on", ""))
    row.left_on = check.date("left_on", cells.get("left_on", ""))
    if row.joined_on and row.left_on and row.left_on < row.joined_on:
        check.error(
            "left_on",
            _("The leaving date %(left)s is before the joining date %(joined)s.")
            % {"left": row.left_on.isoformat(), "joined": row.joined_on.isoformat()},
        )
    row.services = check.service_list(cells.get("services", ""))
    _parse_contact(check, cells, row)
    return (None if check.failed else row), number


def _parse_contact(check: _RowChecker, cells: dict[str, str], row: MemberRow) -> None:
    email = cells.get("contact_email", "").lower()
    contact_name = cells.get("contact_name", "")
    roles = cells.get("contact_role", "")
    if email:
        row.contact_email = check.model_field(Contact, "contact_email", "email", email)
        if contact_name:
            row.contact_name = check.model_field(Contact, "contact_name", "name", contact_name)
        row.contact_roles = check.role_list(roles)
    elif contact_name or roles:
        check.error(
            "contact_email",
            _("The contact needs an e-mail address (it is how the contact is recognised)."),
        )


def _check_duplicates(
    lines_of: dict[str, list[int]],
    rows: list[MemberRow],
    header_of: dict[str, str],
    errors: list[RowError],
) -> None:
    duplicated = {number for number, lines in lines_of.items() if len(lines) > 1}
    for number in duplicated:
        where = lines_of[number]
        for line in where:
            others = ", ".join(str(other) for other in where if other != line)
            errors.append(
                RowError(
                    line,
                    header_of["number"],
                    _("The member number %(number)s also appears on line %(others)s.")
                    % {"number": number, "others": others},
                )
            )
    rows[:] = [row for row in rows if row.number not in duplicated]


def _export_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_members(records: Iterable[dict[str, str]], out: TextIO) -> None:
    """Write member records (column → text) as CSV with the English header line."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([_export_cell(record.get(column, "")) for column in COLUMNS])
