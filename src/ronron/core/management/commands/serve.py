"""``ronron serve``: everything a small hoster needs on one machine, in one command.

Prepares the database and the static files, creates the first administrator on a fresh
installation, then runs three child processes until stopped: gunicorn (the web console), the
background worker (``ronron db_worker``) and the monitoring prober (``ronron probe``). If one dies,
the others are stopped too, so that a supervisor (systemd, a terminal) sees the failure instead
of a half-working Ronron.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import IO, Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.core.bootstrap import announcement, ensure_first_admin
from ronron.jobs.recovery import embedded_worker_id, fail_interrupted_tasks

# How long a child that was asked to stop because the other one died may take before it is killed.
STOP_GRACE_SECONDS = 30.0
POLL_SECONDS = 0.2


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in each child before exec: if ``serve`` is killed outright (SIGKILL, out of
    memory), the child gets SIGTERM rather than living on, holding the port and the queue."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _gunicorn_has(setting: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(known.name == setting for known in KNOWN_SETTINGS)


def _bind_url(bind: str) -> str:
    if bind.startswith("unix:"):
        return bind
    host, _sep, port = bind.rpartition(":")
    if host in {"", "0.0.0.0"}:  # noqa: S104 - only to print a URL people can open
        host = "127.0.0.1"
    return f"http://{host}:{port}/"


def _hold_data_dir_lock() -> IO[str]:
    """One `ronron serve` per data directory: a second one would run a second embedded worker
    and could take the first one's running jobs for interrupted ones."""
    path = settings.DATA_DIR / "serve.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise CommandError(
            _("Ronron is already running with the data directory %(path)s.")
            % {"path": settings.DATA_DIR}
        ) from None
    return handle


class Command(BaseCommand):
    help = (
        "Run Ronron: migrate, collect static files, then serve the web console, the worker "
        "and the monitoring prober."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            default="127.0.0.1:8000",
            help="Address the web server listens on, HOST:PORT (default: %(default)s).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="Number of web server processes (default: %(default)s).",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not start the background worker (run `ronron db_worker` elsewhere).",
        )
        parser.add_argument(
            "--no-prober",
            action="store_true",
            help="Do not start the monitoring prober (run `ronron probe` elsewhere).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        bind: str = options["bind"]
        if any(ch in bind for ch in "\r\n\0") or not bind:
            raise CommandError(_("--bind must be HOST:PORT."))
        if options["workers"] < 1:
            raise CommandError(_("--workers must be at least 1."))

        self._lock = _hold_data_dir_lock()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not options["no_worker"]:
            fail_interrupted_tasks(embedded_worker_id())
        admin = ensure_first_admin()
        if admin is not None:
            self.stdout.write(announcement(admin))
        self.stdout.flush()

        children = self._start_children(
            bind,
            options["workers"],
            with_worker=not options["no_worker"],
            with_prober=not options["no_prober"],
        )
        self.stdout.write(
            _("Ronron is running at %(url)s — press Ctrl+C to stop.") % {"url": _bind_url(bind)}
        )
        self.stdout.flush()
        code = self._supervise(children)
        if code:
            sys.exit(code)

    def _start_children(
        self, bind: str, workers: int, *, with_worker: bool, with_prober: bool
    ) -> dict[str, subprocess.Popen[bytes]]:
        env = dict(os.environ)
        # The children must read the same configuration as this process, even if they resolve
        # relative paths differently: pass the resolved data directory explicitly.
        env["RONRON_DATA_DIR"] = str(settings.DATA_DIR)
        env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "ronron.settings")
        commands = {
            "web": [
                sys.executable,
                "-m",
                "gunicorn",
                "ronron.wsgi:application",
                "--bind",
                bind,
                "--workers",
                str(workers),
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "--graceful-timeout",
                "20",
                # A member file's preview is checked during the request (up to 10 MB).
                "--timeout",
                "120",
            ]
        }
        if _gunicorn_has("control_socket_disable"):
            # gunicorn >= 25.1 opens a control socket at one fixed path per user: two Ronrons
            # on one machine (tests, a staging copy) would take it from each other.
            commands["web"].append("--no-control-socket")
        if with_worker:
            commands["worker"] = [
                sys.executable,
                "-m",
                "ronron",
                "db_worker",
                "--no-reload",
                "--queue-name",
                "*",
                "--worker-id",
                embedded_worker_id(),
            ]
        if with_prober:
            commands["prober"] = [sys.executable, "-m", "ronron", "probe"]
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, argv in commands.items():
                # Own process group: a Ctrl+C in the terminal reaches only this process, which
                # passes it on once. Two signals would make the worker abandon its current task.
                children[name] = subprocess.Popen(
                    argv, env=env, process_group=0, preexec_fn=_die_with_parent
                )
        except OSError:
            for child in children.values():
                child.kill()
            raise
        return children

    def _supervise(self, children: dict[str, subprocess.Popen[bytes]]) -> int:
        stop_requested: list[int] = []

        def forward(signum: int, frame: FrameType | None) -> None:
            stop_requested.append(signum)
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signum)

        previous = {
            signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(POLL_SECONDS)
            if not stop_requested:
                dead = [name for name, child in children.items() if child.poll() is not None]
                self.stderr.write(
                    _("The %(names)s process stopped unexpectedly; stopping Ronron.")
                    % {"names": ", ".join(dead)}
                )
                self._stop(children)
                return 1
            # Asked to stop: let each child finish its graceful shutdown (a running task, an
            # open request); a second Ctrl+C is forwarded too and makes them hurry.
            while any(child.poll() is None for child in children.values()):
                time.sleep(POLL_SECONDS)
            return 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _stop(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
