"""Which server gets a new service: among those with the role, the one with the most room.

The rule is deliberately simple and cautious:

- a server's capacity is what its record says (memory, disk), or what was last observed on it
  when the record says 0;
- what it has free is that capacity, minus what was observed in use, minus what its live managed
  services reserve: each reserves its spec's ``memory_mb``/``disk_gb``, or its kind's default
  from ``RESERVATION_DEFAULTS``. A service already running is thus counted twice (observed and
  reserved) — on purpose: reservations cover what a site grows into, and a hoster would rather
  open a new server a little early than overload one;
- the server with the most free memory wins, then the most free disk, then the first by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.fleet.models import ROLES, Server

# kind → (memory in MB, disk in GB) a managed service of that kind reserves on its server.
RESERVATION_DEFAULTS: dict[str, tuple[int, int]] = {"static": (32, 1), "wordpress": (256, 2)}
OTHER_KINDS = (128, 1)


def reservation(kind: str, spec: dict[str, Any] | None = None) -> tuple[int, int]:
    """(memory MB, disk GB) a service of this kind and spec reserves."""
    default_mb, default_gb = RESERVATION_DEFAULTS.get(kind, OTHER_KINDS)
    spec = spec or {}
    return (_number(spec.get("memory_mb"), default_mb), _number(spec.get("disk_gb"), default_gb))


def _number(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


@dataclass(frozen=True)
class Room:
    memory_mb: int  # capacity
    disk_gb: float
    used_memory_mb: int  # observed
    used_disk_gb: float
    reserved_memory_mb: int  # by live managed services
    reserved_disk_gb: int
    services: int

    @property
    def free_memory_mb(self) -> int:
        return self.memory_mb - self.used_memory_mb - self.reserved_memory_mb

    @property
    def free_disk_gb(self) -> float:
        return round(self.disk_gb - self.used_disk_gb - self.reserved_disk_gb, 1)


def room(server: Server) -> Room:
    usage = server.usage or {}
    reserved_mb = reserved_gb = count = 0
    # Live: not removed yet (a service being removed still holds its place until it is gone).
    for kind, spec in server.services.filter(managed=True, removed_at__isnull=True).values_list(
        "kind", "spec"
    ):
        mb, gb = reservation(kind, spec)
        reserved_mb += mb
        reserved_gb += gb
        count += 1
    return Room(
        memory_mb=server.memory_mb or int(usage.get("memory_total_mb") or 0),
        disk_gb=server.disk_gb or float(usage.get("disk_total_gb") or 0),
        used_memory_mb=int(usage.get("memory_used_mb") or 0),
        used_disk_gb=float(usage.get("disk_used_gb") or 0),
        reserved_memory_mb=reserved_mb,
        reserved_disk_gb=reserved_gb,
        services=count,
    )


def choose_server(role: str, *, needs_memory_mb: int = 0, needs_disk_gb: int = 0) -> Server:
    """The server for a new service of this role; ValidationError when none fits."""
    if role not in ROLES:
        raise ValidationError(_("Unknown role: %(roles)s.") % {"roles": role}, code="role")
    candidates = [s for s in Server.objects.order_by("name") if role in s.role_list]
    if not candidates:
        raise ValidationError(
            _("No server takes %(role)s yet. Give this role to a server on the servers page.")
            % {"role": str(ROLES[role]).lower()},
            code="no_server",
        )
    fitting = []
    for server in candidates:
        free = room(server)
        if free.free_memory_mb >= needs_memory_mb and free.free_disk_gb >= needs_disk_gb:
            fitting.append((-free.free_memory_mb, -free.free_disk_gb, server.name, server))
    if not fitting:
        raise ValidationError(
            _(
                "No server for %(role)s has enough room left (%(memory)s MB of memory and "
                "%(disk)s GB of disk needed). Add a server, or raise the capacity of one."
            )
            % {"role": str(ROLES[role]).lower(), "memory": needs_memory_mb, "disk": needs_disk_gb},
            code="no_room",
        )
    return min(fitting, key=lambda item: item[:3])[3]
