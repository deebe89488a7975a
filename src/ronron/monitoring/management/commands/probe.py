"""``ronron probe``: run the checks (all of them, or one shard's) until stopped.

``ronron serve`` starts one; a larger hoster runs several, ``--shard 0/3`` … ``--shard 2/3``,
on one or several machines sharing the database. Shard 0 also does the housekeeping
(availability figures, alert reminders, roll-ups, derived checks).
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ronron.core.validators import reject_control_characters
from ronron.monitoring.prober import Prober, Shard


def _raise_open_files_limit() -> None:
    # Each probe in flight holds a socket: the usual soft limit (1024) is below the cap.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else 65_536
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(wanted, 65_536)), hard))


class Command(BaseCommand):
    help = "Run the monitoring checks until stopped (SIGTERM or Ctrl+C)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--shard",
            default="0/1",
            help="Run only the checks whose number modulo N is I, as I/N (default: %(default)s).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=500,
            help="Probes in flight at most (default: %(default)s).",
        )
        parser.add_argument(
            "--stats",
            default="",
            help="Write the prober's figures (lag, CPU, memory) as JSON to this file each minute.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            shard = Shard.parse(options["shard"])
        except ValueError:
            raise CommandError(
                _("--shard must be I/N with 0 ≤ I < N, for example 0/2 and 1/2.")
            ) from None
        if not 1 <= options["concurrency"] <= 10_000:
            raise CommandError(_("--concurrency must be between 1 and 10000."))
        stats_path = None
        if options["stats"]:
            try:
                reject_control_characters(options["stats"])
            except Exception:
                raise CommandError(_("--stats must be a file name.")) from None
            stats_path = Path(options["stats"]).resolve()
            if not stats_path.parent.is_dir():
                raise CommandError(
                    _("The directory of %(path)s does not exist.") % {"path": stats_path}
                )
        _raise_open_files_limit()
        prober = Prober(shard, concurrency=options["concurrency"], stats_path=stats_path)
        asyncio.run(prober.run())
