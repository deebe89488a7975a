"""A driver for the tests only: kind ``testfile``, a few real files per service.

``<sites_root>/<slug>/`` holds ``index.html`` and ``service.conf``; *suspended* rewrites the
configuration; *absent* exports the directory to ``<sites_root>/../archives/<slug>.tar.gz``
(verified by reading it back) and only then removes it. Orphans are directories nobody claims.

Crash tests stop a step half-way: when ``RONRON_TEST_BLOCK_AT`` names a step key, that step
does part of its work, creates the file ``RONRON_TEST_BLOCK_MARKER`` and sleeps until killed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from ronron.drivers.base import Observation, Orphan, Step, register
from ronron.fleet.hosts import Host, HostError
from ronron.fleet.models import Server
from ronron.services.models import Service

KIND = "testfile"


def _block(key: str, host: Host) -> None:
    if os.environ.get("RONRON_TEST_BLOCK_AT") == key:
        marker = os.environ["RONRON_TEST_BLOCK_MARKER"]
        Path(marker).write_text(key)
        time.sleep(600)


def _root(host: Host) -> str:
    return host.layout.sites_root


def _dir(service: Service, host: Host) -> str:
    return f"{_root(host)}/{service.slug}"


def archive_dir(root: str) -> str:
    return f"{os.path.dirname(root)}/archives"


def _read(host: Host, path: str) -> str:
    """The file's text; empty when it is missing or unreadable (then a step rewrites it)."""
    if not host.exists(path):
        return ""
    try:
        return host.read_file(path).decode()
    except HostError:
        return ""


def _config(service: Service, state: str) -> str:
    return f"slug={service.slug}\ndomain={service.domain}\nstate={state}\n"


def _index(service: Service) -> str:
    return f"<h1>{service.domain or service.slug}</h1>\n"


class FileDriver:
    kind: ClassVar[str] = KIND

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        return dict(spec)

    def observe(self, service: Service, host: Host) -> Observation:
        directory = _dir(service, host)
        parts = {
            "directory": host.exists(directory),
            "index": _read(host, f"{directory}/index.html") == _index(service),
            "config": _read(host, f"{directory}/service.conf"),
        }
        state = "absent"
        if parts["directory"]:
            state = "partial"
            if parts["index"] and parts["config"] == _config(service, "present"):
                state = "present"
            elif parts["index"] and parts["config"] == _config(service, "suspended"):
                state = "suspended"
        archive = f"{archive_dir(_root(host))}/{service.slug}.tar.gz"
        facts = {"archive": archive} if host.exists(archive) else {}
        return Observation(state=state, parts=parts, facts=facts)

    def plan(self, service: Service, observed: Observation) -> list[Step]:
        slug = service.slug

        def step(key: str, description: str, run: Callable[[Service, Host], str]) -> Step:
            return Step(key, description, lambda host: run(service, host))

        if service.wanted_state == Service.Wanted.ABSENT:
            if not observed.parts.get("directory"):
                return []
            return [
                step("export", f"export the files of {slug} and check the archive", self._export),
                step("remove", f"remove the directory of {slug}", self._remove),
            ]
        wanted = "suspended" if service.wanted_state == Service.Wanted.SUSPENDED else "present"
        steps = []
        if not observed.parts.get("directory"):
            steps.append(step("create-dir", f"create the directory of {slug}", self._mkdir))
        if not observed.parts.get("index"):
            steps.append(step("write-index", f"write the home page of {slug}", self._index))
        if observed.parts.get("config") != _config(service, wanted):
            steps.append(
                step("write-config", f"write the configuration of {slug} ({wanted})", self._conf)
            )
        return steps

    # Each step takes (service, host); `plan` binds the service (Step.run receives the host).
    @staticmethod
    def _mkdir(service: Service, host: Host) -> str:
        host.run(["mkdir", "-p", _dir(service, host)])
        _block("create-dir", host)
        return f"created {_dir(service, host)}"

    @staticmethod
    def _index(service: Service, host: Host) -> str:
        _block("write-index", host)
        host.write_file(f"{_dir(service, host)}/index.html", _index(service))
        return "index.html written"

    @staticmethod
    def _conf(service: Service, host: Host) -> str:
        wanted = "suspended" if service.wanted_state == Service.Wanted.SUSPENDED else "present"
        host.write_file(f"{_dir(service, host)}/service.conf", _config(service, wanted))
        _block("write-config", host)
        secret = (service.credentials or {}).get("password", "")
        # A careless driver printing a secret: the journal must not keep it.
        return f"service.conf written ({wanted}){' password=' + secret if secret else ''}"

    @staticmethod
    def _export(service: Service, host: Host) -> str:
        archives = archive_dir(_root(host))
        host.run(["mkdir", "-p", archives])
        target = f"{archives}/{service.slug}.tar.gz"
        partial = f"{target}.part"
        host.run(["tar", "-czf", partial, "-C", _root(host), service.slug])
        _block("export", host)
        listing = host.run(["tar", "-tzf", partial]).stdout
        if f"{service.slug}/index.html" not in listing.split():
            raise RuntimeError(f"the archive {partial} does not hold the home page")
        host.run(["mv", "-f", partial, target])
        return f"archive {target} checked"

    @staticmethod
    def _remove(service: Service, host: Host) -> str:
        archive = f"{archive_dir(_root(host))}/{service.slug}.tar.gz"
        if not host.exists(archive):
            raise RuntimeError("no verified archive: nothing removed")
        host.run(["rm", "-rf", _dir(service, host)])
        return f"removed {_dir(service, host)}"

    def export(self, service: Service, host: Host, directory: Path) -> Path:
        raise NotImplementedError

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]:
        root = _root(host)
        if not host.exists(root):
            return []
        names = host.run(["ls", "-1", root]).stdout.split()
        return [Orphan(KIND, "directory", name) for name in sorted(set(names) - claimed)]


DRIVER = FileDriver()


def install() -> None:
    """Make ``testfile`` the only driver (the real ones look at real paths)."""
    import ronron.drivers
    from ronron.drivers import base

    ronron.drivers.DRIVER_MODULES[:] = []
    base._REGISTRY.clear()
    register(DRIVER)
