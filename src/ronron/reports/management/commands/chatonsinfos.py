"""``ronron chatonsinfos --output-dir DIR --base-url URL``: write the CHATONS statistics files.

For a hoster whose public web server is not Ronron's console: the files are written where that
server serves ``/.well-known/chatonsinfos/`` from, each one atomically, so a reader never sees
half a file. Nothing else in the directory is touched.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.reports import chatonsinfos

_BASE_URL = re.compile(r"https?://[^\s\x00/]+(?:/[^\s\x00]*)?")


def _base_url(value: str) -> str:
    if not _BASE_URL.fullmatch(value):
        raise CommandError(
            _("--base-url: expected an http(s):// address such as %(example)s, got “%(value)s”")
            % {"example": "https://example.org/.well-known/chatonsinfos/", "value": value}
        )
    return value if value.endswith("/") else value + "/"


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes it 0600: the web server that publishes it must be able to read it.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = "Write the CHATONS statistics files (ChatonsInfos) into a directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output-dir", required=True, help="Directory to write the .properties files into."
        )
        parser.add_argument(
            "--base-url",
            required=True,
            help="Public address of that directory, e.g. "
            "https://example.org/.well-known/chatonsinfos/",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = _base_url(options["base_url"])
        directory = Path(options["output_dir"])
        files = chatonsinfos.all_files(base_url)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                path = directory / f"{name}{chatonsinfos.SUFFIX}"
                _write_atomically(path, text)
                self.stdout.write(str(path))
        except OSError as exc:
            raise CommandError(
                _("Cannot write into %(directory)s: %(reason)s")
                % {"directory": directory, "reason": exc.strerror or exc}
            ) from exc
