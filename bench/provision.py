"""Time from ``request_service`` to the new site answering over HTTP, on a real nginx.

    .venv/bin/python bench/provision.py [static] [--sites 10]

Runs as root (system users, nginx workers as www-data) against a private nginx started from a
temporary prefix (tests/stack/nginx.py) and a fresh SQLite database. Each site is requested
through the action, its plan applied through the driver, then fetched until it answers.
The last line printed is one JSON object: median and worst seconds per site and the plan's
step count. Target: 1 s or less per site.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


# --- wordpress: PHP-FPM and MariaDB beside the nginx ------------------------------------------


def _start_wordpress_stack() -> dict[str, Any]:
    from tests.stack.mariadb import start_mariadb
    from tests.stack.phpfpm import start_phpfpm

    fpm, fpm_process = start_phpfpm()
    db, db_process = start_mariadb()
    fpm_layout = {k: v for k, v in fpm.layout_overrides().items() if k != "run_dir"}
    return {
        "fpm": (fpm, fpm_process),
        "db": (db, db_process),
        "layout": {**fpm_layout, **db.layout_overrides()},
    }


def _stop_wordpress_stack(extra: dict[str, Any], stack: object) -> None:
    import glob

    from tests.stack.mariadb import stop_mariadb
    from tests.stack.phpfpm import stop_phpfpm

    for path in glob.glob("/etc/wordpress/config-t-bench*.example.org.php"):
        os.unlink(path)
    stop_phpfpm(*extra["fpm"])
    stop_mariadb(*extra["db"])


def _wordpress_home(port: int, domain: str, timeout: float = 10) -> Any:
    """WordPress's home page; the Host header carries the port, as a browser's would."""
    import http.client

    from tests.stack.nginx import Response

    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/", headers={"Host": f"{domain}:{port}"})
            got = conn.getresponse()
            answer = Response(got.status, dict(got.getheaders()), got.read())
            conn.close()
        except (OSError, http.client.HTTPException):
            answer = Response(0, {}, b"")
        if (answer.status == 200 and b"<html" in answer.body) or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", nargs="?", default="static", choices=["static", "wordpress"])
    parser.add_argument("--sites", type=int, default=10)
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="ronron-bench-")
    os.environ["RONRON_DATA_DIR"] = data
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ronron.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from tests.stack.nginx import (
        cleanup_sites,
        fetch_until,
        make_server,
        start_nginx,
        stop_nginx,
        wait_for_reload,
        workers,
    )

    from ronron.drivers.base import driver_for
    from ronron.members.actions import create_member
    from ronron.services.actions import request_service

    stack, process = start_nginx()
    extra = _start_wordpress_stack() if args.kind == "wordpress" else None
    try:
        server = make_server(stack, "bench-web")
        if extra is not None:
            server.layout = {**stack.layout, **extra["layout"]}
            server.save(update_fields=["layout"])
        member = create_member(actor=None, number="B0001", kind="association", name="Banc")
        host = server.host()
        durations, steps = [], 0
        for n in range(args.sites):
            domain = f"t-bench{n}.example.org"
            started = time.perf_counter()
            service = request_service(
                member,
                actor=None,
                kind=args.kind,
                domain=domain,
                server=server,
                slug=f"t-bench{n}",
            )
            driver = driver_for(service.kind)
            before = workers(stack.base)
            plan = driver.plan(service, driver.observe(service, host))
            for step in plan:
                step.run(host)
            wait_for_reload(stack.base, before)
            if args.kind == "wordpress":
                answer = _wordpress_home(stack.port, domain)
            else:
                answer = fetch_until(stack.port, domain, status=200, contains="Bienvenue")
            elapsed = time.perf_counter() - started
            if answer.status != 200:
                raise SystemExit(f"{domain} did not answer: {answer.status}")
            durations.append(elapsed)
            steps = len(plan)
    finally:
        if extra is not None:
            _stop_wordpress_stack(extra, stack)
        cleanup_sites(stack)
        stop_nginx(stack, process)
    result = {
        "bench": "provision",
        "kind": args.kind,
        "sites": args.sites,
        "steps_per_site": steps,
        "median_s": round(statistics.median(durations), 3),
        "max_s": round(max(durations), 3),
        "target_s": 5.0 if args.kind == "wordpress" else 1.0,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
