"""What a server has and uses right now: memory, disk, CPUs, load. Read through its host only
(``cat /proc/…``, ``df``, ``nproc``), so it works the same on this machine and over SSH."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ronron.fleet.hosts import Host, HostError

# df -P: "<filesystem> <1024-blocks> <used> <available> <capacity>% <mounted on>"; the
# filesystem and the mount point may contain spaces, so the numbers are found from the middle.
_DF_LINE = re.compile(r"\s(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+\S")


def _meminfo(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0])  # kB
    return values


def _existing_ancestor(host: Host, path: str) -> str:
    # The sites root may not exist yet on a new server: measure the disk it will live on.
    while path not in ("", "/") and not host.exists(path):
        path = posixpath.dirname(path)
    return path or "/"


def observe_usage(host: Host) -> dict[str, Any]:
    """Memory in MB, disk in GB (of the disk holding the sites), CPUs and the load averages.

    ``memory_used_mb`` is what is not available to new programs (MemTotal − MemAvailable), the
    figure that matters for placing a new service; caches the kernel can drop are not counted.
    """
    memory = _meminfo(host.run(["cat", "/proc/meminfo"], timeout=30).stdout)
    if "MemTotal" not in memory:
        raise HostError(f"cannot read the memory figures of {host.name}")
    total_kb = memory["MemTotal"]
    available_kb = memory.get("MemAvailable", memory.get("MemFree", 0))

    where = _existing_ancestor(host, host.layout.sites_root)
    df_lines = host.run(["df", "-P", "-k", where], timeout=30).stdout.splitlines()
    match = _DF_LINE.search(df_lines[-1]) if len(df_lines) >= 2 else None
    if match is None:
        raise HostError(f"cannot read the disk figures of {host.name}")
    disk_total_kb, disk_used_kb, disk_free_kb = (int(v) for v in match.groups())

    cpus = int(host.run(["nproc"], timeout=30).stdout.strip() or 0)
    loads = host.run(["cat", "/proc/loadavg"], timeout=30).stdout.split()[:3]
    load_1, load_5, load_15 = (float(v) for v in loads)

    gib = 1024 * 1024  # kB in a GB (GiB, as df and the capacity field count)
    return {
        "memory_total_mb": total_kb // 1024,
        "memory_used_mb": (total_kb - available_kb) // 1024,
        "disk_path": where,
        "disk_total_gb": round(disk_total_kb / gib, 1),
        "disk_used_gb": round(disk_used_kb / gib, 1),
        "disk_free_gb": round(disk_free_kb / gib, 1),
        "cpus": cpus,
        "load": load_1,
        "load_5": load_5,
        "load_15": load_15,
    }
