"""Cloud spaces at Le PIC's size on the stand-in Nextcloud: the first apply (every group, account,
credentials link and app), a plan with nothing to change, and an allowance change on every space.

    .venv/bin/python bench/cloud.py [--spaces 37] [--accounts 526] [--apps 3] [--seed 5]

Everything is fresh and private: a data directory and SQLite database for Ronron, and the
stand-in Nextcloud 27.1 of the test suite (``tests/stack/nextcloud``, proven faithful by the
replay of the recorded exchanges) on a loopback port, with its ``occ``. Mail goes to Django's
in-memory backend (the links are made and stored as for real, not sent).

The stand-in answers faster than a real Nextcloud (PHP, a database) and its ``occ`` starts
Python, not PHP: the **counts** of OCS requests and ``occ`` runs per phase are what carries over
to a real server; times are given with them. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.processes import machine  # noqa: E402

# The stand-in's administrator (its default), a test server's.
STANDIN_ADMIN_PASSWORD = "Adm1n-Passw0rd-2026"  # noqa: S105
APPS = ["calendar", "contacts", "deck", "onlyoffice", "tasks"]
AVAILABLE = {"calendar": "4.5.0", "contacts": "5.4.0", "deck": "1.11.0", "onlyoffice": "9.0.0",
             "tasks": "0.15.0"}  # fmt: skip


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from tests.stack.nextcloud import NextcloudStandIn

    from ronron.drivers.nextcloud import server as nextcloud
    from ronron.fleet.actions import create_server
    from ronron.fleet.nextcloud_access import set_nextcloud_access
    from ronron.members import actions as members
    from ronron.reconcile.engine import compute_plan
    from ronron.services.actions import request_service, update_service_spec
    from ronron.services.models import Service

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("migrate", verbosity=0)
    occ_runs = [0]
    counted = nextcloud._occ

    def occ(host: Any, *arguments: str) -> tuple[int, str]:
        occ_runs[0] += 1
        return counted(host, *arguments)

    nextcloud._occ = occ  # type: ignore[assignment]

    standin = NextcloudStandIn(data_dir=tmp / "nc-data", apps_available=AVAILABLE)
    standin.start()
    try:
        server = create_server(
            actor=None,
            name="nuage-bench",
            roles=["cloud"],
            layout={
                "nextcloud_occ": standin.occ_argv,
                "nextcloud_data": str(standin.data_dir),
                "nextcloud_staging": str(tmp / "staging"),
            },
        )
        set_nextcloud_access(
            server, actor=None, url=standin.url, user="admin", password=STANDIN_ADMIN_PASSWORD
        )
        rng = random.Random(args.seed)
        per_space = [args.accounts // args.spaces] * args.spaces
        for i in range(args.accounts % args.spaces):
            per_space[i] += 1
        for i, count in enumerate(per_space):
            member = members.create_member(
                actor=None,
                number=f"A{i + 1:04d}",
                kind="association",
                name=f"Association {i + 1:04d}",
                joined_on=date(2020, 1, 1),
            )
            request_service(
                member,
                actor=None,
                kind="cloud",
                server=server,
                spec={
                    "allowance": f"{rng.choice([20, 50, 100])} Go",
                    "accounts": [
                        {
                            "id": f"p{k:02d}.a{i + 1:04d}",
                            "name": f"Personne {k} de l'asso {i + 1}",
                            "email": f"p{k:02d}@asso{i + 1:04d}.example.org",
                        }
                        for k in range(count)
                    ],
                    "apps": rng.sample(APPS, args.apps),
                },
            )

        def phase(action: Any) -> dict[str, Any]:
            requests_before, occ_before = len(standin.requests), occ_runs[0]
            started = time.perf_counter()
            outcome = action()
            return {
                "s": round(time.perf_counter() - started, 2),
                "ocs_requests": len(standin.requests) - requests_before,
                "occ_runs": occ_runs[0] - occ_before,
                **(outcome or {}),
            }

        def apply() -> dict[str, Any]:
            call_command("apply", "--server", server.name, "--yes", verbosity=0)
            return {}

        def plan() -> dict[str, Any]:
            found = compute_plan(server=server.name)
            return {"steps": found.step_count, "errors": len(found.errors)}

        first = phase(apply)
        from django.core import mail

        links = len(mail.outbox)
        running = Service.objects.filter(kind="cloud", observed_state="present").count()
        idle = phase(plan)
        for space in Service.objects.filter(kind="cloud"):
            spec = dict(space.spec)
            spec["allowance"] = spec["allowance"] * 2
            update_service_spec(space, actor=None, spec=spec)
        changed = phase(apply)
        settled = phase(plan)
    finally:
        standin.stop()
    return {
        "bench": "cloud",
        "spaces": args.spaces,
        "accounts": args.accounts,
        "apps_per_space": args.apps,
        "first_apply": first,
        "credentials_links": links,
        "spaces_running": running,
        "plan_nothing_to_do": idle,
        "allowance_change_apply": changed,
        "plan_after_change": settled,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spaces", type=int, default=37)
    parser.add_argument("--accounts", type=int, default=526)
    parser.add_argument("--apps", type=int, default=3, choices=range(len(APPS) + 1))
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.spaces < 1 or args.accounts < args.spaces:
        parser.error("--spaces must be at least 1 and --accounts at least --spaces")
    tmp = Path(tempfile.mkdtemp(prefix="ronron-bench-cloud-"))
    os.environ.pop("RONRON_DATABASE_URL", None)
    os.environ["RONRON_DATA_DIR"] = str(tmp / "data")
    os.environ["DJANGO_SETTINGS_MODULE"] = "ronron.settings"
    (tmp / "data").mkdir()
    try:
        result = run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
