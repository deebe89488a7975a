"""A real ``ronron apply`` of a static site, killed (SIGKILL) half-way through one step of the
real driver, then applied again: the site converges, nothing is doubled (system user, nginx
file, archive), no temporary file is left, the killed run reads as interrupted, and a new plan
has nothing to do. The step is stopped by ``tests/reconcile/crashctl.py`` in the subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ronron.drivers.web import archive
from tests.reconcile import test_crash
from tests.serving import REPO_ROOT, wait_for
from tests.stack.nginx import NginxStack, cleanup_sites, fetch_until

# A migrated file-based (or PostgreSQL) database per test, as for the other crash tests.
migrated = test_crash.migrated
crash_env = test_crash.crash_env
ctl = test_crash.ctl


@pytest.fixture
def stack(nginx_stack: NginxStack) -> Iterator[NginxStack]:
    cleanup_sites(nginx_stack)
    try:
        yield nginx_stack
    finally:
        cleanup_sites(nginx_stack)


def real(env: dict[str, str]) -> dict[str, str]:
    return {**env, "RONRON_TEST_DRIVERS": "real"}


def killed_apply(env: dict[str, str], marker: Path, block: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reconcile.crashctl", "apply"],
        env={
            **real(env),
            "RONRON_TEST_BLOCK": json.dumps(block),
            "RONRON_TEST_BLOCK_MARKER": str(marker),
        },
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for(marker.exists, 60), f"the apply never reached {block}"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def state(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(ctl(real(env), "state").stdout)


def users(slug: str) -> list[str]:
    passwd = subprocess.run(["getent", "passwd"], capture_output=True, text=True).stdout
    return [line for line in passwd.splitlines() if line.split(":")[0] == f"site-{slug}"]


def check_runs(runs: list[dict[str, Any]], step: str) -> None:
    killed, resumed = runs[-2:]
    assert killed["status"] == "interrupted"
    interrupted = [s for s in killed["steps"] if s[1] == "failed"]
    assert [s[0].rsplit(":", 1)[-1] for s in interrupted] == [step]
    assert "Interrupted" in interrupted[0][2]
    assert resumed["status"] == "succeeded", resumed


def no_leftovers(stack: NginxStack) -> None:
    """No temporary file of an atomic write (``.ronron-<random>``) anywhere the driver writes;
    the exports' staging directory (``.ronron-exports``) is checked by the removal test."""
    assert not list(stack.sites_dir.glob(".ronron-*"))
    for directory in ("srv/sites", "srv/suspended", "run", "certs"):
        found = (stack.base / directory).rglob(".ronron-*")
        assert [p for p in found if p.name != archive.STAGING] == [], directory


@pytest.mark.parametrize(
    "block",
    [
        {"step": "system-user", "before": "run:useradd"},
        {"step": "directories", "before": "run:chmod"},
        {"step": "welcome-page", "before": ""},
        {"step": "nginx-site", "before": "run:nginx"},
        {"step": "nginx-reload", "before": "run:rm"},
    ],
    ids=lambda block: f"{block['step']}-{block['before'] or 'after'}",
)
def test_killed_while_making_a_site_a_new_apply_serves_it(crash_env, tmp_path, stack, block):
    slug = f"t-kill-{block['step'].split('-')[-1]}"
    domain = f"{slug}.example.org"
    assert ctl(
        real(crash_env), "static-setup", json.dumps(stack.layout), domain
    ).stdout.split() == [slug]

    killed_apply(crash_env, tmp_path / "blocked", block)
    ctl(real(crash_env), "apply")
    now = state(crash_env)

    check_runs(now["runs"], block["step"])
    assert now["plan"]["nothing_to_do"], now["plan"]["changes"]
    assert not [e for e in now["plan"]["errors"] if e["service"]]
    assert not {o["name"] for o in now["plan"]["orphans"]} & {slug, f"site-{slug}"}
    page = fetch_until(stack.port, domain, status=200, contains="Bienvenue")
    assert page.status == 200 and domain in page.text
    assert len(users(slug)) == 1
    assert sorted(p.name for p in stack.sites_dir.iterdir()) == [f"ronron-{slug}.conf"]
    htdocs = Path(stack.layout["sites_root"]) / slug / "htdocs"
    assert sorted(p.name for p in htdocs.iterdir()) == ["index.html"]
    assert sorted(p.name for p in (stack.base / "run").iterdir()) == []
    no_leftovers(stack)


@pytest.mark.parametrize(
    "block",
    [
        # Between the copy into the data directory and its check (the staged copy on the
        # server not yet removed either).
        {"step": "export", "before": "run:rm"},
        # Exported, verified and recorded; killed before the step could say so.
        {"step": "export", "before": ""},
        {"step": "nginx-reload", "before": "run:rm"},
        {"step": "files-remove", "before": ""},
    ],
    ids=lambda block: f"{block['step']}-{block['before'] or 'after'}",
)
def test_killed_while_removing_a_site_a_new_apply_removes_it_once(
    crash_env, tmp_path, stack, block
):
    slug = f"t-kill-rm-{block['step'].split('-')[-1]}{'-mid' if block['before'] else ''}"
    domain = f"{slug}.example.org"
    ctl(real(crash_env), "static-setup", json.dumps(stack.layout), domain)
    ctl(real(crash_env), "apply")
    fetch_until(stack.port, domain, status=200, contains="Bienvenue")
    (Path(stack.layout["sites_root"]) / slug / "htdocs" / "carnet.txt").write_text("à garder")
    ctl(real(crash_env), "static-remove")

    killed_apply(crash_env, tmp_path / "blocked", block)
    ctl(real(crash_env), "apply")
    now = state(crash_env)

    check_runs(now["runs"], block["step"])
    assert now["plan"]["nothing_to_do"], now["plan"]["changes"]
    [service] = now["services"]
    assert service["removed"]
    archives = Path(crash_env["RONRON_DATA_DIR"]) / "archives" / "A0202"
    assert sorted(p.name for p in archives.iterdir()) == sorted(
        [Path(service["archive"]).name, Path(service["archive"]).name + ".sha256"]
    )
    assert archive.verify_recorded(service["archive"]) > 0
    with tarfile.open(service["archive"]) as tar:
        kept = tar.extractfile(f"{slug}/htdocs/carnet.txt")
        assert kept is not None and kept.read().decode() == "à garder"

    assert not (Path(stack.layout["sites_root"]) / slug).exists()
    assert list(stack.sites_dir.iterdir()) == []
    assert users(slug) == []
    assert fetch_until(stack.port, domain, status=0).status == 0
    staging = Path(stack.layout["sites_root"]) / ".ronron-exports"
    assert not staging.exists() or list(staging.iterdir()) == []
    no_leftovers(stack)
