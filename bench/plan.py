"""A plan with nothing to do, over N real sites on this machine.

    .venv/bin/python bench/plan.py [--sites 100] [--kind static] [--repeat 3]

In a fresh data directory (SQLite) with a local server whose layout points every path into a
temporary directory (nginx reloads replaced by ``true``): request N sites of the kind, apply
once (everything is created: system users ``site-bench…``, directories, nginx blocks), then time
``compute_plan`` — which must find nothing to do — ``--repeat`` times. The sites are then
removed through the reconciler itself (export, verify, remove), so no user is left behind.
Must run as root (system users). The last line printed is one JSON object. Target: ≤ 2 s for
100 sites.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--kind", default="static")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Leave the sites and the directory.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ronron-bench-plan-"))
    os.environ["RONRON_DATA_DIR"] = str(work / "data")
    os.environ.pop("RONRON_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ronron.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from ronron.fleet.models import Server
    from ronron.members.actions import create_member
    from ronron.reconcile.actions import create_run
    from ronron.reconcile.engine import apply_plan, compute_plan
    from ronron.services.actions import remove_service, request_service
    from ronron.services.models import Service

    call_command("migrate", verbosity=0)
    layout = {
        "sites_root": str(work / "sites"),
        "nginx_sites_dir": str(work / "nginx"),
        "nginx_reload": ["true"],
        "nginx_test": ["true"],
        "php_fpm_pool_dir": str(work / "fpm"),
        "php_fpm_reload": ["true"],
        "php_fpm_test": ["true"],
        "run_dir": str(work / "run"),
        "certs_dir": str(work / "certs"),
        "suspended_root": str(work / "suspended"),
        "acme_root": str(work / "acme"),
        "wordpress_config_dir": str(work / "wp-config"),
    }
    for key, value in layout.items():
        if key.endswith(("_dir", "_root")):
            Path(str(value)).mkdir(parents=True, exist_ok=True)
    server = Server.objects.create(name="bench", roles="web", layout=layout)
    member = create_member(actor=None, number="B0001", kind="association", name="Banc d'essai")
    for number in range(args.sites):
        request_service(
            member,
            actor=None,
            kind=args.kind,
            domain=f"bench{number:04d}.example.org",
            server=server,
            slug=f"bench{number:04d}",
        )

    started = time.perf_counter()
    first = apply_plan(create_run(actor=None).pk)
    provision = time.perf_counter() - started
    timings = []
    steps_left = []
    for _round in range(args.repeat):
        started = time.perf_counter()
        plan = compute_plan()
        timings.append(time.perf_counter() - started)
        steps_left.append(plan.step_count)

    removal = None
    if not args.keep:
        for service in Service.objects.filter(server=server, removed_at__isnull=True):
            remove_service(service, actor=None)
        started = time.perf_counter()
        removed = apply_plan(create_run(actor=None).pk)
        removal = {"seconds": round(time.perf_counter() - started, 3), "status": removed.status}
    result = {
        "kind": args.kind,
        "sites": args.sites,
        "first_apply": {
            "seconds": round(provision, 3),
            "status": first.status,
            "steps": first.steps.count(),
        },
        "noop_plan_seconds": [round(t, 3) for t in timings],
        "noop_plan_best_seconds": round(min(timings), 3),
        "steps_in_noop_plan": steps_left,
        "removal": removal,
        "target_seconds": 2.0,
    }
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    sys.exit(0 if first.status == "succeeded" and not any(steps_left) else 1)


if __name__ == "__main__":
    main()
