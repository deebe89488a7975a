"""Driven by the crash tests in a separate process: ``python -m tests.reconcile.crashctl
setup SITES_ROOT | apply | state``, against the database of ``RONRON_DATA_DIR``/``_DATABASE_URL``.

With ``RONRON_TEST_DRIVERS=real`` the real drivers stay registered (``static-setup LAYOUT_JSON
DOMAIN`` and ``static-remove`` then make and remove a static site), and ``RONRON_TEST_BLOCK``
(JSON ``{"step": "nginx-reload", "before": "run:rm"}``) stops one step of the real driver
half-way: the step's host blocks before its first call that matches ``before`` (``run:<program>``
or ``write_file``), or after the whole step when ``before`` is empty, writing the file
``RONRON_TEST_BLOCK_MARKER`` then sleeping until the test kills the process. Nothing in the
production code knows about it: the registered driver's ``plan`` is wrapped here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _block() -> None:
    Path(os.environ["RONRON_TEST_BLOCK_MARKER"]).write_text("blocked")
    time.sleep(600)


class _BlockingHost:
    """The step's real host, blocking before the first call that matches ``before``."""

    def __init__(self, host: Any, before: str) -> None:
        self._host = host
        self._before = before

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)

    def run(self, argv: Any, *args: Any, **kwargs: Any) -> Any:
        if self._before == f"run:{os.path.basename(argv[0])}":
            _block()
        return self._host.run(argv, *args, **kwargs)

    def write_file(self, *args: Any, **kwargs: Any) -> Any:
        if self._before == "write_file":
            _block()
        return self._host.write_file(*args, **kwargs)


def install_block(kind: str, step: str, before: str) -> None:
    """Wrap ``step`` (the last part of its key) in the plans of the registered ``kind``."""
    from ronron.drivers.base import driver_for

    driver = driver_for(kind)
    plan = driver.plan

    def blocking_plan(service: Any, observed: Any) -> Any:
        steps = plan(service, observed)
        for number, original in enumerate(steps):
            if original.key.rsplit(":", 1)[-1] == step:

                def run(host: Any, original: Any = original) -> Any:
                    output = original.run(_BlockingHost(host, before) if before else host)
                    if not before:
                        _block()
                    return output

                steps[number] = dataclasses.replace(original, run=run)
        return steps

    # An instance attribute: the class, and the other process, keep the real method.
    driver.plan = blocking_plan  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ronron.settings")
    import django

    django.setup()
    from django.core.management import call_command

    command = argv[0]
    if os.environ.get("RONRON_TEST_DRIVERS") == "real":
        block = json.loads(os.environ.get("RONRON_TEST_BLOCK") or "{}")
        if block:
            install_block(block.get("kind", "static"), block["step"], block.get("before", ""))
    else:
        from tests.reconcile import filedriver

        filedriver.install()
    if command == "migrate":
        call_command("migrate", verbosity=0)
    elif command == "setup":
        from ronron.fleet.models import Server
        from ronron.members.actions import create_member
        from ronron.services.models import Service

        member = create_member(actor=None, number="A0202", kind="association", name="Vélo")
        server = Server.objects.create(name="web1", layout={"sites_root": argv[1]})
        for slug, wanted in (("jardin", "present"), ("velo", "present"), ("vieux", "absent")):
            Service.objects.create(
                member=member,
                kind="testfile",
                family="other",
                managed=True,
                server=server,
                slug=slug,
                domain=f"{slug}.example.org",
                wanted_state=wanted,
            )
    elif command == "static-setup":
        from ronron.fleet.actions import create_server
        from ronron.members.actions import create_member
        from ronron.services.actions import request_service

        member = create_member(actor=None, number="A0202", kind="association", name="Vélo")
        server = create_server(
            actor=None, name="web1", host_kind="local", roles="web", layout=json.loads(argv[1])
        )
        service = request_service(member, actor=None, kind="static", domain=argv[2], server=server)
        print(service.slug)
    elif command == "static-remove":
        from ronron.services.actions import remove_service
        from ronron.services.models import Service

        for service in Service.objects.filter(removed_at__isnull=True):
            remove_service(service, actor=None)
    elif command == "apply":
        from django.core.management.base import CommandError

        try:
            call_command("apply", "--yes")
        except CommandError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.exit(exc.returncode)
    elif command == "state":
        from ronron.reconcile.engine import compute_plan
        from ronron.reconcile.models import Run
        from ronron.services.models import Service

        runs = [
            {
                "status": run.status,
                "steps": [[s.key, s.status, s.output] for s in run.steps.all()],
            }
            for run in Run.objects.order_by("pk")
        ]
        services = [
            {"slug": s.slug, "removed": s.removed_at is not None, "archive": s.archive_path}
            for s in Service.objects.order_by("pk")
        ]
        print(json.dumps({"runs": runs, "plan": compute_plan().to_json(), "services": services}))


if __name__ == "__main__":
    main(sys.argv[1:])
