"""Kill the applying process at a step, apply again: the result converges, nothing doubled,
nothing left behind, and the killed run is shown as interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import REPO_ROOT, clean_env, wait_for


def ctl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "tests.reconcile.crashctl", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode:
        pytest.fail(f"crashctl {args} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated database, made once: each test starts from a copy of it."""
    url = os.environ.get("RONRON_DATABASE_URL", "")
    data = tmp_path_factory.mktemp("crash-template") / "data"
    if not url.startswith(("postgres://", "postgresql://")):
        env = clean_env(data, PYTHONPATH=str(REPO_ROOT))
        ctl(env, "migrate")
        yield {"data": str(data)}
        return
    import psycopg
    from psycopg import sql

    name = f"ronron_crash_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = url.rpartition("/")[0]
    env = clean_env(data, PYTHONPATH=str(REPO_ROOT), RONRON_DATABASE_URL=f"{base}/{name}")
    ctl(env, "migrate")
    try:
        yield {"data": str(data), "url": url, "template": name}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def crash_env(migrated: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    data = tmp_path / "data"
    shutil.copytree(migrated["data"], data)
    if "template" not in migrated:
        yield clean_env(data, PYTHONPATH=str(REPO_ROOT), RONRON_LANGUAGE="en")
        return
    import psycopg
    from psycopg import sql

    name = f"{migrated['template']}_{tmp_path.name[-20:]}".lower().replace("-", "_")
    with psycopg.connect(migrated["url"], autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(migrated["template"])
            )
        )
    base = migrated["url"].rpartition("/")[0]
    try:
        yield clean_env(
            data,
            PYTHONPATH=str(REPO_ROOT),
            RONRON_DATABASE_URL=f"{base}/{name}",
            RONRON_LANGUAGE="en",  # messages are asserted in English, as in the whole suite
        )
    finally:
        with psycopg.connect(migrated["url"], autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.mark.parametrize("kill_at", ["create-dir", "write-index", "write-config", "export"])
def test_killed_at_any_step_a_new_apply_converges(crash_env, tmp_path, kill_at):
    sites = tmp_path / "sites"
    (sites / "vieux").mkdir(parents=True)
    (sites / "vieux" / "index.html").write_text("<h1>vieux</h1>")
    (sites / "ancien").mkdir()  # claimed by no service
    (sites / "ancien" / "notes.txt").write_text("à garder")
    ctl(crash_env, "setup", str(sites))

    marker = tmp_path / "blocked"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reconcile.crashctl", "apply"],
        env={**crash_env, "RONRON_TEST_BLOCK_AT": kill_at, "RONRON_TEST_BLOCK_MARKER": str(marker)},
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for(marker.exists, 60), f"the apply never reached {kill_at}"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    ctl(crash_env, "apply")
    state = json.loads(ctl(crash_env, "state").stdout)

    killed, resumed = state["runs"]
    assert killed["status"] == "interrupted"
    interrupted = [step for step in killed["steps"] if step[1] == "failed"]
    assert [step[0] for step in interrupted] == [kill_at]
    assert "Interrupted" in interrupted[0][2]
    assert resumed["status"] == "succeeded"
    assert state["plan"]["nothing_to_do"] and not state["plan"]["errors"]
    assert [o["name"] for o in state["plan"]["orphans"]] == ["ancien"]

    assert sorted(p.name for p in sites.iterdir()) == ["ancien", "jardin", "velo"]
    for slug in ("jardin", "velo"):
        assert sorted(p.name for p in (sites / slug).iterdir()) == ["index.html", "service.conf"]
        assert (sites / slug / "service.conf").read_text().count("slug=") == 1
    assert sorted(p.name for p in (sites / "ancien").iterdir()) == ["notes.txt"]
    assert [p.name for p in (tmp_path / "archives").iterdir()] == ["vieux.tar.gz"]
