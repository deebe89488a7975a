"""``ronron secret new [--hours N | --days N] [--passphrase]``: a one-time link from a terminal.

The secret is read from standard input, encrypted here with a fresh key (the same format as the
page's, secrets/envelope.py), and only the ciphertext is stored. The key is printed inside the
link and kept nowhere else, so an admin can hand a member a password without it lingering in a
mailbox, a chat history or Ronron's database.
"""

from __future__ import annotations

import getpass
import os
import sys
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from ronron.secrets import envelope, store
from ronron.secrets.models import Secret


def _plain(text: str) -> str:
    return text


class Command(BaseCommand):
    help = _("Make one-time secret links.")
    # `stdin` lets call_command() hand the secret in, as a pipe does for `ronron secret new`.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        new = sub.add_parser(
            "new",
            help=_(
                "Read a secret from standard input and print a link that reveals it once. "
                "One final line break is removed."
            ),
        )
        lifetime = new.add_mutually_exclusive_group()
        lifetime.add_argument(
            "--hours", type=int, help=_("The link stays valid this many hours (1 to 720).")
        )
        lifetime.add_argument(
            "--days",
            type=int,
            help=_("The link stays valid this many days (1 to 30; default: %(days)s).")
            % {"days": settings.RONRON.secrets.credentials_link_days},
        )
        new.add_argument(
            "--passphrase",
            action="store_true",
            help=_("Also protect the secret with a passphrase, asked for on the terminal."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        lifetime = self._lifetime(options.get("hours"), options.get("days"))
        stdin: IO[Any] = options.get("stdin") or sys.stdin
        text = self._read_secret(stdin)
        passphrase = self._ask_passphrase() if options["passphrase"] else None
        link_key, sealed = envelope.seal(text, passphrase=passphrase)
        secret_id, row = store.store(sealed, lifetime=lifetime, origin=Secret.Origin.RONRON)
        link = (
            settings.RONRON.public_url + reverse("secrets:show", args=[secret_id]) + "#" + link_key
        )
        expires = formats.date_format(timezone.localtime(row.expires_at), "DATETIME_FORMAT")
        # The link alone on the first line, so that a script can take it with `head -n 1`.
        self.stdout.write(link, _plain)
        self.stdout.write(
            _("It works once, until %(date)s. Send it only to the person it is for.")
            % {"date": expires}
        )
        if passphrase:
            self.stdout.write(
                _("Send the passphrase through another channel than the link (a phone call…).")
            )

    def _lifetime(self, hours: int | None, days: int | None) -> timedelta:
        if hours is not None:
            seconds = hours * 3600
        elif days is not None:
            seconds = days * 86400
        else:
            seconds = settings.RONRON.secrets.credentials_link_days * 86400
        try:
            return store.check_lifetime(seconds)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None

    def _read_secret(self, stdin: IO[Any]) -> str:
        limit = int(settings.RONRON.secrets.max_bytes)
        if stdin.isatty():
            self.stderr.write(
                _("Type or paste the secret, then press Ctrl-D on an empty line."), _plain
            )
        # A few bytes more than allowed tell "too long" without reading a huge input whole.
        source = getattr(stdin, "buffer", None)
        if source is not None:
            data = source.read(limit + 3)
        else:
            data = stdin.read(limit + 3).encode("utf-8", "surrogatepass")
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        # Up to two more bytes may be the final line break removed below.
        if len(data) > limit + 2:
            raise CommandError(store.too_big_message())
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(_("The secret must be UTF-8 text.")) from None
        # A pipe (`echo`) or a terminal ends the input with a line break nobody meant to share.
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        if "\x00" in text:
            raise CommandError(_("The secret must be text: it holds a NUL character."))
        if not text.strip():
            raise CommandError(_("The secret is empty: give it on standard input."))
        if len(text.encode("utf-8")) > limit:
            raise CommandError(store.too_big_message())
        return text

    def _ask_passphrase(self) -> str:
        # Without a terminal getpass would read the (already consumed) standard input, and
        # could echo what is typed.
        try:
            os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        except OSError:
            raise CommandError(
                _("--passphrase needs a terminal to ask for the passphrase: nothing was stored.")
            ) from None
        try:
            first = getpass.getpass(_("Passphrase: "))
            second = getpass.getpass(_("Passphrase again: "))
        except (EOFError, KeyboardInterrupt):
            raise CommandError(_("No passphrase given: nothing was stored.")) from None
        if not first:
            raise CommandError(_("The passphrase is empty: nothing was stored."))
        if first != second:
            raise CommandError(_("The two passphrases differ: nothing was stored."))
        return first
