"""Driven by the crash tests in a separate process: ``python -m tests.reconcile.crashctl
setup SITES_ROOT | apply | state``, against the database of ``RONRON_DATA_DIR``/``_DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ronron.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from tests.reconcile import filedriver

    filedriver.install()
    command = argv[0]
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

        runs = [
            {
                "status": run.status,
                "steps": [[s.key, s.status, s.output] for s in run.steps.all()],
            }
            for run in Run.objects.order_by("pk")
        ]
        print(json.dumps({"runs": runs, "plan": compute_plan().to_json()}))


if __name__ == "__main__":
    main(sys.argv[1:])
