"""What the member journey test (test_member_journey.py) needs around the browser: a real SMTP
server on loopback that keeps what it receives, a `ronron serve` whose address is known before
it starts (it writes that address in the links it mails), the `ronron` command run with the
served installation's environment, the test WordPress server's layout, the credentials read
from a one-time link, and the cleaning of what the served Ronron made on the test stack."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.drivers.wpstack import CONFIG_DIR
from tests.stack.mariadb import MariaDB
from tests.stack.nginx import NginxStack, cleanup_sites
from tests.stack.phpfpm import PhpFpm

# The journey's sites are named under their own test domain, not the driver tests'
# ``.ronron-test.example``: Debian's WordPress reads every site's config from the one
# /etc/wordpress, and the driver tests' clean-up removes every ``*.ronron-test.example`` config
# there, which would break this test's sites when another test session runs at the same time.
DOMAIN_SUFFIX = ".ronron-journey.example"
# A config left by a run that was killed before its clean-up is removed by a later run.
STALE_AFTER_SECONDS = 6 * 3600


# --- mail --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str

    def __str__(self) -> str:
        return f"to {', '.join(self.to)}: {self.subject}"


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts (the SMTP server's thread
    writes, the test reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        subject = " ".join(str(message["Subject"] or "").split())
        with self._lock:
            self._received.append(Mail(tuple(envelope.rcpt_tos), subject, body))
        return "250 Message accepted"

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self._received)

    def to(self, address: str, *needles: str | re.Pattern[str]) -> list[Mail]:
        """Messages to ``address`` whose subject or body contains every one of ``needles``."""
        return [
            mail
            for mail in self.received()
            if address in mail.to
            and all(_found(n, f"{mail.subject}\n{mail.body}") for n in needles)
        ]

    def summary(self) -> str:
        return "\n".join(str(mail) for mail in self.received()) or "(no mail)"


def _found(needle: str | re.Pattern[str], text: str) -> bool:
    return bool(needle.search(text)) if isinstance(needle, re.Pattern) else needle in text


# --- the served installation -------------------------------------------------------------------


def ronron(env: dict[str, str], cwd: Path, *args: str) -> str:
    """Run ``ronron ARGS…`` against the served installation (its data directory and database);
    returns its output, fails the test with it when the command fails."""
    done = subprocess.run(
        [sys.executable, "-m", "ronron", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"ronron {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def set_server_layout(
    env: dict[str, str], cwd: Path, server_name: str, layout: dict[str, Any]
) -> None:
    """Give a server of the served installation its layout. The console's server form has no
    layout field (a layout is for tests and unusual servers), so this goes through the fleet's
    action (audited) in a `ronron shell` of the served installation."""
    assert re.fullmatch(r"[a-z0-9-]+", server_name), server_name
    code = "\n".join(
        [
            "import json",
            "from ronron.fleet.actions import update_server",
            "from ronron.fleet.models import Server",
            f"server = Server.objects.get(name={server_name!r})",
            f"update_server(server, actor=None, layout=json.loads({json.dumps(layout)!r}))",
            "print('layout set')",
        ]
    )
    assert "layout set" in ronron(env, cwd, "shell", "--no-imports", "-c", code)


def stack_layout(nginx: NginxStack, fpm: PhpFpm, db: MariaDB) -> dict[str, Any]:
    """The layout the ``wp_stack`` fixture gives its server: nginx, PHP-FPM and MariaDB of the
    test stack (the pools' sockets in nginx's run directory)."""
    fpm_layout = {k: v for k, v in fpm.layout_overrides().items() if k != "run_dir"}
    return {**nginx.layout, **fpm_layout, **db.layout_overrides()}


def cleanup_sites_of(token: str, nginx: NginxStack, fpm: PhpFpm, db: MariaDB) -> None:
    """Remove what the served Ronron made for this run's sites (their domains and system
    names carry ``token``): PHP-FPM pools, WordPress configs, databases and their users, then
    the stack's sites and ``site-t-*`` users (``cleanup_sites``). In the /etc/wordpress all
    sessions share, only this run's configs (and those stale for hours): another session may
    be running this test too."""
    assert re.fullmatch(r"[a-z0-9]+", token), token
    for path in fpm.pool_dir.glob(f"ronron-t-*{token}*.conf"):
        path.unlink()
    with contextlib.suppress(ProcessLookupError):
        os.kill(fpm.pid, signal.SIGUSR2)
    for path in CONFIG_DIR.glob(f"config-*{DOMAIN_SUFFIX}.php"):
        with contextlib.suppress(FileNotFoundError):
            if token in path.name or time.time() - path.stat().st_mtime > STALE_AFTER_SECONDS:
                path.unlink()
    schemas = (
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'wp\\_t\\_%';"
    )
    names = [n for n in db.query(schemas).split() if token in n]
    users = db.query("SELECT User FROM mysql.user WHERE User LIKE 'wp\\_t\\_%';").split()
    users = [u for u in users if token in u]
    db.query(
        "".join(f"DROP DATABASE IF EXISTS `{name}`;" for name in names)
        + "".join(f"DROP USER IF EXISTS '{user}'@'localhost';" for user in users)
        + "SELECT 1;"
    )
    cleanup_sites(nginx)


# --- what people read --------------------------------------------------------------------------

# The labels of a credentials text (services/handover.py), in French (the hoster's default
# language) and in English.
CREDENTIAL_LABELS = {
    "url": ("Adresse", "Address"),
    "login": ("Identifiant", "Login"),
    "password": ("Mot de passe", "Password"),
}


def read_credentials(text: str) -> dict[str, str]:
    """The address, login and password of a revealed credentials text."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        label, colon, value = line.partition(":")
        if not colon:
            continue
        for key, labels in CREDENTIAL_LABELS.items():
            if label.strip() in labels:
                found[key] = value.strip()
    assert set(found) == set(CREDENTIAL_LABELS), text
    return found


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], None] = lambda: None,
    interval: float = 0.25,
) -> None:
    """Ask until ``predicate`` holds; ``alive`` fails early when what is awaited cannot come
    any more (the served process died)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
