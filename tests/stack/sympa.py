"""A real Sympa (Debian's package) for the tests, in a private instance: its own ``sympa.conf``
under a temporary directory (list data, spools, archives, SQLite database, robot configs), so
that a test session starts from a clean, known state and never touches ``/etc/sympa`` or
``/var/lib/sympa``. Every Sympa program reads the ``SYMPA_CONFIG`` environment variable, so the
instance is driven with the stock ``sympa`` command plus that variable.

The command line (create, close, open, add, del, include, review, dump) needs no daemon. Mail
that Sympa sends goes to a capture script that writes one ``.eml`` file per message: nothing is
ever delivered. ``run_daemons_until_idle`` runs the spool daemons (distribution, sending,
archiving) for the tests that send a message to a list, and stops them.

``start_sympa``/``stop_sympa`` are plain functions so that ``bench/`` can use them without
pytest.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

SYMPA = "/usr/bin/sympa"
SYMPA_BIN = Path("/usr/lib/sympa/bin")
SYMPA_USER = "sympa"
# Debian's constant, not configurable: only the spool daemons write their PID files there.
SYMPA_PIDDIR = Path("/run/sympa")

SPOOLS = {
    "queue": "msg",
    "queuemod": "moderation",
    "queuedigest": "digest",
    "queueauth": "auth",
    "queueoutgoing": "outgoing",
    "queuesubscribe": "subscribe",
    "queuetopic": "topic",
    "queuebounce": "bounce",
    "queuetask": "task",
    "queueautomatic": "automatic",
    "queuebulk": "bulk",
    "viewmail_dir": "viewmail",
    "tmpdir": "tmp",
}
# Owned by the sympa user: Sympa drops root privileges right after reading its configuration.
SYMPA_DIRS = ("etc", "db", "list_data", "arc", "bounce", "css", "pictures", "spool", "mail", "log")
DAEMONS = ("sympa_msg.pl", "bulk.pl", "archived.pl")

# Sympa runs it as `sendmail -oi -odi -oem -f SENDER -- RCPT...` with the message on stdin.
CAPTURE_SENDMAIL = """#!/bin/sh
# Writes each message Sympa sends to {mail_dir}, with its envelope, instead of sending it.
tmp=$(mktemp "{mail_dir}/.incoming-XXXXXXXX")
{{
    printf 'X-Envelope-Args:'
    for arg in "$@"; do printf ' %s' "$arg"; done
    printf '\\n'
    cat
}} > "$tmp"
mv "$tmp" "{mail_dir}/$(date +%s%N)-$$.eml"
"""
# Sympa calls an external alias manager as `PROGRAM add|del LIST DOMAIN`: record the calls
# instead of editing the MTA's aliases (which the test instance has none of).
CAPTURE_ALIASES = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
"""


@dataclass(frozen=True)
class SympaServer:
    base: Path

    sympa: str = SYMPA

    @property
    def config(self) -> Path:
        """The instance's ``sympa.conf`` (what ``SYMPA_CONFIG`` points at)."""
        return self.base / "etc" / "sympa.conf"

    @property
    def etc_dir(self) -> Path:
        """Sympa's ``etc``: one ``ROBOT/robot.conf`` per list domain (``/etc/sympa`` on Debian)."""
        return self.base / "etc"

    @property
    def list_data(self) -> Path:
        """Sympa's ``home``: ``ROBOT/LIST/config`` (``/var/lib/sympa/list_data`` on Debian)."""
        return self.base / "list_data"

    @property
    def arc_dir(self) -> Path:
        """Archives: ``LIST@ROBOT/YYYY-MM/`` (``/var/lib/sympa/arc`` on Debian)."""
        return self.base / "arc"

    @property
    def spool_dir(self) -> Path:
        return self.base / "spool"

    @property
    def database(self) -> Path:
        """The SQLite database (``/var/lib/dbconfig-common/sqlite3/sympa/sympa`` on Debian)."""
        return self.base / "db" / "sympa.sqlite"

    @property
    def mail_dir(self) -> Path:
        """Captured outgoing messages, one ``.eml`` file each, in the order they were sent."""
        return self.base / "mail"

    @property
    def aliases_log(self) -> Path:
        """One line per alias change Sympa asked for: ``add LIST ROBOT`` or ``del LIST ROBOT``."""
        return self.base / "mail" / "aliases.log"

    @property
    def log_dir(self) -> Path:
        return self.base / "log"

    @property
    def env(self) -> dict[str, str]:
        return {"SYMPA_CONFIG": str(self.config)}

    @property
    def command(self) -> list[str]:
        """The ``sympa`` command line prefix for this instance, as an argument list."""
        return ["env", f"SYMPA_CONFIG={self.config}", self.sympa]

    def layout(self) -> dict[str, Any]:
        """What a Sympa driver needs to know to drive this instance rather than Debian's."""
        return {
            "sympa_command": self.command,
            "sympa_config": str(self.config),
            "sympa_etc": str(self.etc_dir),
            "sympa_list_data": str(self.list_data),
            "sympa_arc": str(self.arc_dir),
            "sympa_spool": str(self.spool_dir),
            "sympa_database": str(self.database),
        }

    def run(
        self, *args: str, input: str | None = None, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``sympa ARGS`` on this instance. Sympa prints its reports on stderr."""
        return subprocess.run(
            [self.sympa, *args],
            input=input,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            check=check,
            timeout=timeout,
        )

    def create_robot(self, name: str | None = None) -> str:
        """A new list domain (robot) on this Sympa: ``lists-<random>.test`` unless named."""
        robot = name or f"lists-{secrets.token_hex(4)}.test"
        if not robot.replace("-", "").replace(".", "").isalnum() or robot.startswith("."):
            raise ValueError(f"invalid robot name {robot!r}")
        robot_etc = self.etc_dir / robot
        for directory in (robot_etc, self.list_data / robot):
            directory.mkdir(mode=0o755)
            shutil.chown(directory, SYMPA_USER, SYMPA_USER)
        conf = robot_etc / "robot.conf"
        conf.write_text(
            f"wwsympa_url\thttp://{robot}/sympa\nlistmaster\tlistmaster@{robot}\n",
            encoding="utf-8",
        )
        shutil.chown(conf, SYMPA_USER, SYMPA_USER)
        return robot

    def remove_robot(self, robot: str) -> None:
        """Forget a robot: its config, lists, archives and database rows."""
        shutil.rmtree(self.etc_dir / robot, ignore_errors=True)
        shutil.rmtree(self.list_data / robot, ignore_errors=True)
        for archive in self.arc_dir.glob(f"*@{robot}"):
            shutil.rmtree(archive, ignore_errors=True)
        with self.database_connection() as db:
            for table, column in (
                ("subscriber_table", "robot_subscriber"),
                ("admin_table", "robot_admin"),
                ("exclusion_table", "robot_exclusion"),
                ("list_table", "robot_list"),
            ):
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (robot,))  # noqa: S608

    @contextlib.contextmanager
    def database_connection(self) -> Iterator[sqlite3.Connection]:
        """Sympa's database, committed and closed on leaving (as root, SQLite gives any journal
        file it creates the database file's owner, so Sympa can still write)."""
        db = sqlite3.connect(self.database, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def list_dir(self, listname: str, robot: str) -> Path:
        return self.list_data / robot / listname

    def members(self, listname: str, robot: str) -> set[str]:
        """The list's subscribers, read from the database (as Sympa stores them)."""
        with self.database_connection() as db:
            rows = db.execute(
                "SELECT user_subscriber FROM subscriber_table "
                "WHERE list_subscriber = ? AND robot_subscriber = ?",
                (listname, robot),
            ).fetchall()
        return {row[0] for row in rows}

    def captured_mail(self) -> list[EmailMessage]:
        """Messages Sympa sent so far; the envelope is in the ``X-Envelope-Args`` header."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            messages.append(parsed)
        return messages

    def clear_mail(self) -> None:
        for path in self.mail_dir.glob("*.eml"):
            path.unlink()

    def submit(self, listname: str, robot: str, message: bytes) -> Path:
        """Put a message for LIST@ROBOT in the incoming spool, as Debian's ``queue`` program
        (which only knows ``/var/spool/sympa``) would."""
        name = f"{listname}@{robot}.{int(time.time())}.{os.getpid()},{secrets.randbelow(10**6)}"
        tmp = self.spool_dir / "tmp" / f"incoming-{name}"
        tmp.write_bytes(message)
        shutil.chown(tmp, SYMPA_USER, SYMPA_USER)
        target = self.spool_dir / "msg" / name
        tmp.rename(target)
        return target

    def pending_spool_files(self) -> list[Path]:
        """Messages still waiting in the incoming, sending or archiving spools."""
        pending: list[Path] = []
        for spool in ("msg", "outgoing", "bulk/msg", "bulk/pct"):
            root = self.spool_dir / spool
            if root.is_dir():
                pending.extend(
                    path
                    for path in root.rglob("*")
                    if path.is_file() and "bad" not in path.relative_to(root).parts
                )
        return pending

    def run_daemons_until_idle(self, timeout: float = 60, daemons: Sequence[str] = DAEMONS) -> None:
        """Run Sympa's spool daemons (distribution, sending, archiving) in the foreground until
        every spool is empty, then stop them. Their logs go to ``log_dir``."""
        processes = []
        try:
            for daemon in daemons:
                log = (self.log_dir / f"{daemon}.log").open("ab")
                processes.append(
                    subprocess.Popen(
                        [str(SYMPA_BIN / daemon), "--foreground"],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, **self.env},
                    )
                )
                log.close()
            deadline = time.monotonic() + timeout
            idle_since: float | None = None
            while time.monotonic() < deadline:
                for daemon, process in zip(daemons, processes, strict=True):
                    if process.poll() is not None:
                        raise RuntimeError(f"{daemon} stopped: see {self.log_dir}")
                if self.pending_spool_files():
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                # The daemons hand a message to each other: empty spools must stay empty for
                # longer than one of their polling intervals (`sleep 1` in sympa.conf).
                elif time.monotonic() - idle_since > 2.5:
                    return
                time.sleep(0.1)
            raise RuntimeError(f"Sympa spools still busy: {self.pending_spool_files()}")
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _sympa_conf(base: Path) -> str:
    spools = "".join(f"{key}\t{base}/spool/{sub}\n" for key, sub in SPOOLS.items())
    return (
        "domain\tsympa.ronron.test\n"
        "listmaster\tlistmaster@sympa.ronron.test\n"
        "lang\ten_US\n"
        "db_type\tSQLite\n"
        f"db_name\t{base}/db/sympa.sqlite\n"
        f"etc\t{base}/etc\n"
        f"home\t{base}/list_data\n"
        f"spool\t{base}/spool\n"
        f"{spools}"
        f"bounce_path\t{base}/bounce\n"
        f"arc_path\t{base}/arc\n"
        f"css_path\t{base}/css\n"
        f"pictures_path\t{base}/pictures\n"
        "static_content_path\t/usr/share/sympa/static_content\n"
        "wwsympa_url\thttp://sympa.ronron.test/sympa\n"
        f"sendmail\t{base}/bin/sendmail\n"
        f"alias_manager\t{base}/bin/alias-manager\n"
        # The spool daemons poll every `sleep` seconds: 5 by default, slow for tests.
        "sleep\t1\n"
        # Without a syslog daemon (none on this machine), Sys::Syslog's "unix" socket type
        # warns on stderr at every command; "native" (syslog(3)) stays silent.
        "log_socket_type\tnative\n"
    )


def start_sympa(base: Path | None = None, *, wal: bool = False) -> SympaServer:
    """A fresh private Sympa instance: configuration, directories, initialised database.

    ``wal``: put the SQLite database in WAL mode (persistent in the file), which roughly halves
    the time Sympa spends writing members; Debian's own database is not in WAL mode."""
    base = base or Path(tempfile.mkdtemp(prefix="ronron-sympa-", dir="/tmp"))
    # Traversable: Sympa runs as the sympa user below it.
    base.chmod(0o755)
    for sub in (*SYMPA_DIRS, *(f"spool/{spool}" for spool in SPOOLS.values())):
        (base / sub).mkdir(parents=True, exist_ok=True)
    server = SympaServer(base)
    # Root-owned: Sympa runs these programs as the sympa user, who must not be able to rewrite
    # them.
    (base / "bin").mkdir(exist_ok=True)
    sendmail = base / "bin" / "sendmail"
    sendmail.write_text(CAPTURE_SENDMAIL.format(mail_dir=server.mail_dir))
    alias_manager = base / "bin" / "alias-manager"
    alias_manager.write_text(CAPTURE_ALIASES.format(log=server.aliases_log))
    for program in (sendmail, alias_manager):
        program.chmod(0o755)
    server.config.write_text(_sympa_conf(base), encoding="utf-8")
    for sub in SYMPA_DIRS:
        for path in [base / sub, *(base / sub).rglob("*")]:
            shutil.chown(path, SYMPA_USER, SYMPA_USER)
    # `sympa check` creates the database tables. Run as the sympa user, so that the database
    # file (and SQLite's journal, created beside it) belong to it.
    subprocess.run(
        ["runuser", "-u", SYMPA_USER, "--", "env", f"SYMPA_CONFIG={server.config}", SYMPA, "check"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    if wal:
        # As root, SQLite gives the files it creates beside the database the database's owner.
        with server.database_connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
    # Creating the tables notified the listmaster: tests start with no captured mail.
    server.clear_mail()
    return server


def stop_sympa(server: SympaServer) -> None:
    shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture(scope="session")
def sympa_server() -> Iterator[SympaServer]:
    if not os.path.exists(SYMPA):
        pytest.skip("sympa is not installed (scripts/install-test-deps)")
    if os.geteuid() != 0:
        pytest.skip("Sympa's command line runs as root (it switches to the sympa user itself)")
    server = start_sympa()
    try:
        yield server
    finally:
        stop_sympa(server)
