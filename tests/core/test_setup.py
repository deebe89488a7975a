"""Installing and starting Ronron: configuration, ``ronron serve``, the first administrator."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django_tasks import task

from ronron import config
from tests.serving import PASSWORD_LINE, Served, alive, clean_env, wait_for

# -- configuration ---------------------------------------------------------------------------


def test_toml_file_then_environment(tmp_path: Path) -> None:
    config_file = tmp_path / "ronron.toml"
    config_file.write_text(
        'hoster_name = "Le PIC"\n'
        'language = "en"\n'
        "[dues]\n"
        'cutoff = "08-15"\n'
        'amount_association = "25.00"\n'
        "[email]\n"
        "port = 2525\n",
        encoding="utf-8",
    )
    loaded = config.load(
        {
            "RONRON_CONFIG": str(config_file),
            "RONRON_DATA_DIR": str(tmp_path / "data"),
            "RONRON_HOSTER_NAME": "Le PIC (env)",
            "RONRON_DUES_AMOUNT_ASSOCIATION": "40.00",
            "RONRON_EMAIL_USE_TLS": "oui",
        }
    )
    # The environment wins over the file, the file over the defaults.
    assert loaded.hoster_name == "Le PIC (env)"
    assert str(loaded.dues.amount_association) == "40.00"
    assert loaded.language == "en"
    assert loaded.dues.cutoff == (8, 15)
    assert loaded.email["port"] == 2525
    assert loaded.email["use_tls"] is True
    # Untouched keys keep their defaults.
    assert loaded.dues.call == (12, 1)
    assert loaded.time_zone == "Europe/Paris"
    assert loaded.data_dir == (tmp_path / "data").resolve()
    # A secret key is generated once, kept private, and the same on the next start.
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = config.load({"RONRON_DATA_DIR": str(tmp_path / "data")})
    assert again.secret_key == loaded.secret_key


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    config_file = tmp_path / "ronron.toml"
    config_file.write_text('[dues]\ncall = "12-01"\ncalll = "12-02"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="calll"):
        config.load({"RONRON_CONFIG": str(config_file), "RONRON_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize("value", ["13-01", "02-30", "1er décembre", "12"])
def test_bad_dues_date_is_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(config.ConfigError, match=r"dues\.call.*MM-DD"):
        config.load({"RONRON_DUES_CALL": value, "RONRON_DATA_DIR": str(tmp_path)})


def _ronron(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ronron", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path, RONRON_DATABASE_URL="postgres://ronron:s3cr%40t@db.example.org:5433/ronron_prod"
    )
    result = _ronron(
        "shell",
        "--no-imports",
        "-c",
        "from django.db import connection as c; s = c.settings_dict; "
        "print(s['ENGINE'], s['HOST'], s['PORT'], s['NAME'], s['USER'], s['PASSWORD'])",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "db.example.org",
        "5433",
        "ronron_prod",
        "ronron",
        "s3cr@t",
    ]


def test_configuration_error_is_plain_and_exits_2(tmp_path: Path) -> None:
    result = _ronron("check", env=clean_env(tmp_path, RONRON_DUES_CUTOFF="31-09"))
    assert result.returncode == 2
    assert "configuration error: dues.cutoff: expected MM-DD, got '31-09'" in result.stderr
    assert "Traceback" not in result.stderr


# -- ronron serve -----------------------------------------------------------------------------


@task()
def touch_file(path: str) -> None:
    """Run by the worker of a served Ronron to show that background jobs really run."""
    Path(path).write_text("done", encoding="utf-8")


@pytest.mark.slow
def test_serve_runs_web_and_worker_and_shows_the_password_once(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    login_path = reverse(settings.LOGIN_URL)
    served = Served(serve_env, cwd=tmp_path)
    try:
        served.wait_until_up(login_path)
        # The login page's stylesheet is served too (collected, then served by the app).
        page = served.fetch(login_path)[1].decode()
        stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page)
        assert stylesheets, "the login page links no stylesheet"
        for href in stylesheets:
            status, body = served.fetch(href)
            assert status == 200 and body, href
        accounts = PASSWORD_LINE.findall(served.output)
        assert len(accounts) == 1, served.output
        username, password = accounts[0]
        assert username == "admin"
        assert len(password) >= 20
        assert f"http://127.0.0.1:{served.port}/" in served.output

        # A second Ronron on the same data directory refuses to start (its worker would take
        # the first one's running jobs for interrupted ones).
        second = subprocess.run(
            [sys.executable, "-m", "ronron", "serve", "--bind", "127.0.0.1:1"],
            env=serve_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode != 0
        # The message names the data directory, in whatever language it is written.
        assert serve_env["RONRON_DATA_DIR"] in second.stderr

        children = served.children()
        assert set(children) == {"web", "worker", "prober"}, served.output
        # A member file's preview is checked during the request: gunicorn allows it 120 s.
        web_args = Path(f"/proc/{children['web']}/cmdline").read_bytes().split(b"\0")
        assert web_args[web_args.index(b"--timeout") + 1] == b"120", web_args

        # The printed password opens the admin account of this installation.
        check = _ronron(
            "shell",
            "--no-imports",
            "-c",
            "import os; from django.contrib.auth import authenticate; "
            "u = authenticate(username='admin', password=os.environ['FIRST_PASSWORD']); "
            "print(u is not None and u.is_staff and u.is_superuser)",
            env={**serve_env, "FIRST_PASSWORD": password},
            cwd=tmp_path,
        )
        assert check.stdout.strip() == "True", check.stderr

        # A job queued now is run by the worker that serve started.
        marker = tmp_path / "worker-ran"
        enqueue = _ronron(
            "shell",
            "--no-imports",
            "-c",
            f"from tests.core.test_setup import touch_file; touch_file.enqueue({str(marker)!r})",
            env=serve_env,
            cwd=tmp_path,
        )
        assert enqueue.returncode == 0, enqueue.stderr
        assert wait_for(marker.exists, 30), served.output

        assert served.stop() == 0, served.output
        assert not any(alive(pid) for pid in children.values())
    finally:
        served.kill()
    # The password is never written to the data directory (it is shown, not kept).
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert password.encode() not in path.read_bytes(), path

    # Second start: the admin exists, so no password; then the worker dies and serve stops too.
    again = Served(serve_env, cwd=tmp_path)
    try:
        again.wait_until_up(login_path)
        assert not PASSWORD_LINE.search(again.output), again.output
        children = again.children()
        assert set(children) == {"web", "worker", "prober"}, again.output
        os.kill(children["worker"], signal.SIGKILL)
        assert again.process.wait(timeout=60) == 1, again.output
        assert wait_for(lambda: not alive(children["web"]), 10)
    finally:
        again.kill()

    # Killed outright, serve takes its children with it: nothing keeps the port or the queue.
    third = Served(serve_env, cwd=tmp_path)
    try:
        third.wait_until_up(login_path)
        children = third.children()
        assert set(children) == {"web", "worker", "prober"}, third.output
        third.process.kill()
        third.process.wait(timeout=10)
        assert wait_for(lambda: not any(alive(pid) for pid in children.values()), 30)
    finally:
        third.kill()


@pytest.mark.django_db
def test_createadmin_creates_the_first_admin_once() -> None:
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from ronron.core.models import AuditEntry

    first = StringIO()
    call_command("createadmin", stdout=first)
    match = PASSWORD_LINE.search(first.getvalue())
    assert match, first.getvalue()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert match.group(1) == "admin"
    assert admin.check_password(match.group(2))

    entry = AuditEntry.objects.get(action="core.admin_bootstrapped")
    assert entry.object_repr == "admin"
    assert match.group(2) not in str(entry.after)

    second = StringIO()
    call_command("createadmin", stdout=second)
    assert not PASSWORD_LINE.search(second.getvalue())
    assert get_user_model().objects.filter(is_staff=True).count() == 1


@pytest.mark.django_db
def test_first_admin_does_not_take_over_an_existing_account(django_user_model: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    member_manager = django_user_model.objects.create_user(username="admin", password="x" * 20)
    out = StringIO()
    call_command("createadmin", stdout=out)
    match = PASSWORD_LINE.search(out.getvalue())
    assert match, out.getvalue()
    assert match.group(1) == "admin-2"
    member_manager.refresh_from_db()
    assert not member_manager.is_staff
    assert member_manager.check_password("x" * 20)
    created = django_user_model.objects.get(username=match.group(1))
    assert created.is_superuser and created.check_password(match.group(2))
