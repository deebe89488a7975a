"""``ronron chatonsinfos --output-dir DIR --base-url URL``: write the CHATONS statistics files.

For a hoster whose public web server is not Ronron's console: the files are written where that
server serves ``/.well-known/chatonsinfos/`` from, each one atomically, so a reader never sees
half a file. Nothing else in the directory is touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.reports import chatonsinfos
from ronron.reports.render import write_atomically

_BASE_URL = re.compile(r"https?://[^\s\x00/]+(?:/[^\s\x00]*)?")


def _base_url(value: str) -> str:
    if not _BASE_URL.fullmatch(value):
        raise CommandError(
            _("--base-url: expected an http(s):// address such as %(example)s, got “%(value)s”")
            % {"example": "https://example.org/.well-known/chatonsinfos/", "value": value}
        )
    return value if value.endswith("/") else value + "/"


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
                write_atomically(path, text.encode())
                self.stdout.write(str(path))
        except OSError as exc:
            raise CommandError(
                _("Cannot write into %(directory)s: %(reason)s")
                % {"directory": directory, "reason": exc.strerror or exc}
            ) from exc
