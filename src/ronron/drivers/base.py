"""The driver contract (design.md, Contracts → Drivers).

A driver makes one kind of service real on a server, only through the host it is given:

- ``observe(service, host)`` reads reality without changing it;
- ``plan(service, observed)`` returns named, human-readable steps, each idempotent and safe to
  retry, that take reality to the service's wanted state (present, suspended or absent); for
  *absent*, the steps export and verify an archive before anything is removed;
- ``export(service, host, directory)`` writes an archive of the member's data and returns it,
  verified (it reads back);
- ``orphans(server, host, claimed)`` lists what the driver finds on the server that no service
  claims — shown, never deleted, and adoptable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.models import Server
    from ronron.services.models import Service


@dataclass
class Observation:
    """What a driver saw: a state (absent, partial, present, suspended) and details by part
    ({"system-user": True, "nginx-site": False, …}) that ``plan`` compares with the truth."""

    state: str
    parts: dict[str, Any] = field(default_factory=dict)
    # Anything worth showing (versions, disk use…), stored on the service.
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One idempotent change. ``key`` is stable (used in journals and crash recovery);
    ``description`` is what a non-expert reads ("créer l'utilisateur système site-foo")."""

    key: str
    description: str
    run: Callable[[Host], str] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Orphan:
    """Something on a server that no service claims (an nginx site, a pool, a database…)."""

    kind: str  # the driver's kind that recognises it (static, wordpress…)
    resource: str  # nginx-site, php-fpm-pool, database, system-user, directory
    name: str  # its name on the server (slug, file name, database name…)
    details: dict[str, Any] = field(default_factory=dict)


class Driver(Protocol):
    kind: ClassVar[str]

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The spec, normalised; raises django ValidationError with field errors."""
        ...

    def observe(self, service: Service, host: Host) -> Observation: ...

    def plan(self, service: Service, observed: Observation) -> list[Step]: ...

    def export(self, service: Service, host: Host, directory: Path) -> Path: ...

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]: ...


_REGISTRY: dict[str, Driver] = {}


def register(driver: Driver) -> Driver:
    _REGISTRY[driver.kind] = driver
    return driver


def driver_for(kind: str) -> Driver:
    from ronron.drivers import load_all

    load_all()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise LookupError(f"no driver for the kind {kind!r}") from None


def drivers() -> list[Driver]:
    from ronron.drivers import load_all

    load_all()
    return list(_REGISTRY.values())
