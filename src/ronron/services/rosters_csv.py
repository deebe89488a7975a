"""Reading a file of addresses for an "upload" roster. No database writes here.

People send what their spreadsheet saves: commas or semicolons (French spreadsheets use ``;``),
UTF-8 with or without a BOM, or Windows-1252 from older office suites; a header line or none;
a single column of addresses or a few columns with names. Every line is checked and every
problem reported with its line number, so that one pass tells the volunteer what to fix; the
caller saves nothing unless the whole file is good (a half-read file would silently unsubscribe
people from the lists that follow the roster).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ronron.core.validators import validate_email
from ronron.services.rosters import Entry

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_NAME = 200
ERRORS_SHOWN = 20

# Header names are compared folded: case, accents, spaces, hyphens and underscores do not count.
EMAIL_HEADERS = {
    "email",
    "e mail",
    "mail",
    "courriel",
    "adresse",
    "address",
    "email address",
    "e mail address",
    "adresse email",
    "adresse e mail",
    "adresse mail",
    "adresse electronique",
    "adresse courriel",
}
NAME_HEADERS = {"name", "nom", "full name", "nom complet", "display name", "nom affiche"}
FIRST_NAME_HEADERS = {"first name", "firstname", "given name", "prenom"}
LAST_NAME_HEADERS = {"last name", "lastname", "surname", "family name", "nom de famille"}

_CONTROL = re.compile(r"[\r\n\x00]")
_SEPARATORS = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


@dataclass(frozen=True)
class _Columns:
    email: int = 0
    name: int | None = 1
    first: int | None = None
    last: int | None = None


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", plain.casefold()).strip()


def decode(data: bytes) -> str:
    """The text of the file: UTF-8 (a BOM is dropped), else Windows-1252."""
    if data.startswith(b"PK\x03\x04"):  # .xlsx and .ods files are zip archives
        raise ValidationError(
            _(
                "This is a spreadsheet file, not a CSV file. In your spreadsheet, choose "
                "“Save as…”, then the CSV format, and send the new file."
            ),
            code="spreadsheet",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValidationError(
            _(
                "Line %(line)s: this file is neither UTF-8 nor Windows-1252 text. Save it "
                "again as CSV in UTF-8 and send the new file."
            )
            % {"line": line},
            code="encoding",
        ) from None


def _delimiter(text: str) -> str:
    """Semicolon, comma or tab, whichever the first line uses most (addresses contain none)."""
    for line in io.StringIO(text):
        if line.strip():
            counts = {sep: line.count(sep) for sep in (";", ",", "\t")}
            best = max(counts, key=lambda sep: counts[sep])
            return best if counts[best] else ","
    return ","


def _header(cells: list[str]) -> _Columns | None:
    """The columns named by a header line, or None when the line is not a header."""
    folded = [fold(cell) for cell in cells]

    def find(names: set[str]) -> int | None:
        return next((i for i, name in enumerate(folded) if name in names), None)

    email = find(EMAIL_HEADERS)
    if email is None:
        return None
    first, last, name = find(FIRST_NAME_HEADERS), find(LAST_NAME_HEADERS), find(NAME_HEADERS)
    if first is not None and last is None and name is not None:
        # "Prénom;Nom;Courriel": here "nom" is the family name.
        last, name = name, None
    return _Columns(email=email, name=name, first=first, last=last)


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _row(cells: list[str], columns: _Columns) -> tuple[str, str]:
    email = _cell(cells, columns.email).strip()
    if columns.name is not None:
        name = _cell(cells, columns.name)
    else:
        name = f"{_cell(cells, columns.first)} {_cell(cells, columns.last)}"
    return email, name


def _check(line: int, email: str, name: str) -> tuple[Entry | None, LineError | None]:
    if _CONTROL.search(email) or _CONTROL.search(name):
        return None, LineError(
            line, _("a value holds a line break or a NUL character, which is not allowed")
        )
    if not email:
        return None, LineError(line, _("there is no e-mail address"))
    try:
        validate_email(email)
    except ValidationError:
        return None, LineError(
            line, _("“%(value)s” is not a valid e-mail address") % {"value": email[:100]}
        )
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        return None, LineError(
            line, _("the name is longer than %(max)s characters") % {"max": MAX_NAME}
        )
    return Entry(email.lower(), name), None


def _problems(errors: list[LineError]) -> ValidationError:
    shown = [
        _("Line %(line)s: %(message)s.") % {"line": e.line, "message": e.message}
        for e in errors[:ERRORS_SHOWN]
    ]
    summary = ngettext(
        "%(count)s line cannot be read, so nothing was saved. Correct it and send the file again:",
        "%(count)s lines cannot be read, so nothing was saved. Correct them and send the file "
        "again:",
        len(errors),
    ) % {"count": len(errors)}
    messages = [summary, *shown]
    if len(errors) > ERRORS_SHOWN:
        more = len(errors) - ERRORS_SHOWN
        messages.append(
            ngettext("…and %(count)s more line.", "…and %(count)s more lines.", more)
            % {"count": more}
        )
    return ValidationError(messages, code="bad_lines")


def parse_text(text: str) -> list[Entry]:
    """The entries of a file's text, sorted, one per address (case-insensitive; the first name
    given is kept). Raises ValidationError listing the bad lines when any line is bad."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    found: dict[str, Entry] = {}
    errors: list[LineError] = []
    columns: _Columns | None = None
    first_row = True
    rows = 0
    end = 0
    try:
        for cells in reader:
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if first_row:
                first_row = False
                columns = _header(cells)
                if columns is not None:
                    continue
                columns = _Columns()
            assert columns is not None
            rows += 1
            if rows > MAX_ROWS:
                raise ValidationError(
                    _("This file has more than %(max)s addresses; split it into smaller rosters.")
                    % {"max": f"{MAX_ROWS:,}".replace(",", " ")},
                    code="too_many",
                )
            entry, error = _check(line, *_row(cells, columns))
            if error is not None:
                errors.append(error)
            elif entry is not None:
                known = found.get(entry.email)
                if known is None or (not known.name and entry.name):
                    found[entry.email] = entry
    except csv.Error as exc:
        errors.append(LineError(end + 1, _("the line cannot be read (%(error)s)") % {"error": exc}))
    if errors:
        raise _problems(errors)
    if not found:
        raise ValidationError(
            _("The file holds no address. A roster cannot be emptied by sending an empty file."),
            code="empty",
        )
    return sorted(found.values())


def parse_addresses(data: bytes) -> list[Entry]:
    """The entries of an uploaded file (see :func:`parse_text`)."""
    if len(data) > MAX_BYTES:
        raise ValidationError(
            _("This file is too large: up to %(size)s MB are accepted.")
            % {"size": MAX_BYTES // (1024 * 1024)},
            code="too_large",
        )
    return parse_text(decode(data))
