"""Lists re-read their rosters: many lists in a few long-lived Sympa processes.

``sympa include`` costs half a second of Perl and Sympa start-up per list, which makes 650
lists take minutes. ``sync_lists.pl`` runs the same handler as ``sympa include`` for every list
named on its standard input, in one process; Ronron sends the script with the command (nothing
is installed on the server) and runs ``sympa_sync_processes`` of them side by side.

Two Sympa rules shape this (docs/sympa-driver-notes.md): a list never syncs twice at once (the
loser is "skipped" and is tried again here), and members are stamped to the second, so a sync
must start in a later second than the previous one of the same list (the caller waits).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from ronron.drivers.sympa.server import check_robot, reports, sympa_env_prefix
from ronron.drivers.sympa.spec import validate_list_name

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host

_SCRIPT = resources.files("ronron.drivers.sympa").joinpath("sync_lists.pl")


@dataclass(frozen=True)
class ListSync:
    address: str
    status: str  # ok, partial, failed, skipped, closed, unknown
    added: int = 0
    deleted: int = 0
    updated: int = 0
    held: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self) -> str:
        if self.status in {"ok", "partial"}:
            return (
                f"{self.status}: {self.added} added, {self.deleted} removed, "
                f"{self.updated} unchanged"
            )
        if self.status == "failed":
            return f"failed: the roster could not be read, {self.held} subscribers kept" + (
                f" ({self.detail})" if self.detail else ""
            )
        return self.status + (f" ({self.detail})" if self.detail else "")


def _argv(host: Host) -> list[str]:
    script = _SCRIPT.read_text()
    return [*sympa_env_prefix(host), "perl", "-I", host.layout.sympa_library, "-e", script]


def _run_batch(host: Host, addresses: list[str]) -> dict[str, ListSync]:
    result = host.run(
        _argv(host), input="".join(f"{a}\n" for a in addresses), check=False, timeout=3600
    )
    found: dict[str, ListSync] = {}
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) != 6 or fields[0] not in addresses:
            continue
        added, deleted, updated, held = (int(f) if f.isdigit() else 0 for f in fields[2:])
        found[fields[0]] = ListSync(fields[0], fields[1], added, deleted, updated, held)
    if len(found) < len(addresses):
        # The process stopped half-way: what it said is all there is to show.
        said = "; ".join(reports(result)) or result.stderr.strip()[-500:]
        for address in addresses:
            found.setdefault(address, ListSync(address, "failed", detail=said or "no answer"))
    return found


def sync_lists(host: Host, addresses: list[str], *, retries: int = 3) -> dict[str, ListSync]:
    """Each list (``name@robot``) fetches its roster again; how each went."""
    for address in addresses:
        name, _at, robot = address.partition("@")
        validate_list_name(name)
        check_robot(robot)
    pending = list(dict.fromkeys(addresses))
    results: dict[str, ListSync] = {}
    for attempt in range(retries + 1):
        if not pending:
            break
        if attempt:
            time.sleep(1)  # another sync holds these lists: let it finish, then redo ours
        processes = max(1, min(host.layout.sympa_sync_processes, len(pending)))
        # Round-robin: neighbouring lists (often of similar size) go to different processes.
        shares = [pending[i::processes] for i in range(processes)]
        with ThreadPoolExecutor(max_workers=processes) as pool:
            for batch in pool.map(lambda share: _run_batch(host, share), shares):
                results.update(batch)
        pending = [a for a in pending if results[a].status == "skipped"]
    return results
