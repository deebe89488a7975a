"""`ronron secret new`: an admin hands a secret from a terminal as a one-time link."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import io
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import termios
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from ronron.secrets import envelope
from ronron.secrets.models import Secret
from tests.serving import REPO_ROOT, clean_env

TEXT = "Identifiant : trésorière\r\nMot de passe : Été-2026 ✓ 🐈\n\nfin"


def link_pattern(public_url: str) -> re.Pattern[str]:
    return re.compile(
        "^" + re.escape(public_url) + r"/secret/([A-Za-z0-9_-]{22})/#([A-Za-z0-9_-]{43})$"
    )


def sealed_of(row: Secret) -> envelope.Sealed:
    return envelope.Sealed(
        ciphertext=row.ciphertext, iv=row.iv, salt=row.salt, iterations=row.iterations
    )


def encodings(data: bytes) -> list[str]:
    """How a secret or a key could show up in a row if it were stored in the clear."""
    return [
        base64.b64encode(data).decode().rstrip("="),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
        data.hex(),
    ]


def new_secret(*args: str, stdin: str | io.TextIOBase) -> str:
    out = io.StringIO()
    source = io.StringIO(stdin) if isinstance(stdin, str) else stdin
    call_command("secret", "new", *args, stdin=source, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_new_prints_a_link_that_reveals_the_text_once(settings, client: Client) -> None:
    before = timezone.now()
    output = new_secret("--hours", "2", stdin=TEXT + "\n")

    first_line, *rest = output.splitlines()
    match = link_pattern(settings.RONRON.public_url).match(first_line)
    assert match, output
    secret_id, key = match.groups()
    assert "works once" in " ".join(rest)

    row = Secret.objects.get()
    assert row.origin == Secret.Origin.RONRON
    assert not row.has_passphrase
    assert timedelta(hours=2) <= row.expires_at - before < timedelta(hours=2, minutes=1)
    # The row holds ciphertext only: neither the text nor the key, nor the link's id.
    stored = " ".join(str(getattr(row, field.name)) for field in Secret._meta.fields)
    plain = TEXT.encode()
    for needle in [TEXT, "trésorière", key, secret_id, *encodings(plain)]:
        assert needle not in stored
    assert row.lookup == hashlib.sha256(secret_id.encode()).hexdigest()

    # The printed key opens the stored row; the final line break of the input was dropped,
    # the line breaks inside the secret (CR LF, LF) were kept.
    assert envelope.open_sealed(sealed_of(row), key) == TEXT

    # The link works as a page link does: once.
    path = f"/secret/{secret_id}/"
    assert client.get(path).status_code == 200
    revealed = client.post(path)
    assert revealed.status_code == 200
    assert envelope.open_sealed(envelope.Sealed(**revealed.json()), key) == TEXT
    assert client.post(path).status_code == 410
    assert not Secret.objects.exists()


@pytest.mark.django_db
def test_lifetime_defaults_to_the_credentials_link_days_and_takes_days(settings) -> None:
    settings.RONRON = dataclasses.replace(
        settings.RONRON,
        secrets=dataclasses.replace(settings.RONRON.secrets, credentials_link_days=5),
    )
    before = timezone.now()
    new_secret(stdin="un secret")
    new_secret("--days", "30", stdin="un autre")
    lifetimes = sorted(row.expires_at - before for row in Secret.objects.all())
    assert timedelta(days=5) <= lifetimes[0] < timedelta(days=5, minutes=1)
    assert timedelta(days=30) <= lifetimes[1] < timedelta(days=30, minutes=1)


@pytest.mark.django_db
def test_a_secret_of_exactly_the_largest_size_is_taken(settings) -> None:
    largest = settings.RONRON.secrets.max_bytes
    text = "é" * (largest // 2)  # two bytes each in UTF-8
    output = new_secret(stdin=text)
    key = link_pattern(settings.RONRON.public_url).match(output.splitlines()[0]).group(2)
    assert envelope.open_sealed(sealed_of(Secret.objects.get()), key) == text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        ((), "", "empty"),
        ((), "\n", "empty"),
        ((), "  \t \n", "empty"),
        ((), "x" * 65537, "too long"),
        ((), "é" * 32768 + "x", "too long"),
        ((), "a\x00b", "NUL"),
        (("--hours", "0"), "secret", "1 hour to 30 days"),
        (("--days", "31"), "secret", "1 hour to 30 days"),
        (("--hours", "-3"), "secret", "1 hour to 30 days"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    args: tuple[str, ...], stdin: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        new_secret(*args, stdin=stdin)
    assert not Secret.objects.exists()


@pytest.mark.django_db
def test_input_that_is_not_utf8_is_refused() -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"mot de passe \xe9t\xe9"), encoding="latin-1")
    with pytest.raises(CommandError, match="UTF-8"):
        new_secret(stdin=stdin)
    assert not Secret.objects.exists()


@pytest.mark.django_db
def test_hours_and_days_together_are_refused() -> None:
    with pytest.raises(CommandError):
        new_secret("--hours", "2", "--days", "2", stdin="secret")
    assert not Secret.objects.exists()


# With --passphrase the command asks on the terminal (getpass reads /dev/tty, not the standard
# input that holds the secret): these tests give the command a real pseudo-terminal.


def run_with_terminal(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    stdin: bytes,
    answers: list[tuple[str, str]],
    timeout: float = 60.0,
) -> tuple[int, str, str, str]:
    """Run ``argv`` with ``stdin`` piped in and a pseudo-terminal as its controlling terminal;
    type each answer once its prompt shows there. Returns (exit code, stdout, stderr,
    what the terminal showed)."""
    master, slave = pty.openpty()
    # The whole input fits in the pipe's buffer: written and closed before the command starts.
    read_end, write_end = os.pipe()
    os.write(write_end, stdin)
    os.close(write_end)

    def take_the_terminal() -> None:
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=read_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        pass_fds=(slave,),
        preexec_fn=take_the_terminal,  # runs after setsid(): the terminal becomes its own
    )
    os.close(slave)
    os.close(read_end)
    shown = ""
    try:
        deadline = time.monotonic() + timeout
        for prompt, answer in answers:
            # getpass flushes what was typed before its prompt: wait for the prompt.
            while prompt not in shown:
                assert time.monotonic() < deadline, f"no prompt {prompt!r}, got {shown!r}"
                if process.poll() is not None:
                    break
                ready, _w, _x = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        shown += os.read(master, 4096).decode(errors="replace")
                    except OSError:
                        break
            shown = shown.replace(prompt, "", 1)
            os.write(master, answer.encode() + b"\n")
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with contextlib.suppress(OSError):
            os.close(master)
    return process.returncode, out.decode(), err.decode(), shown


def secret_row(data_dir: Path, secret_id: str) -> envelope.Sealed | None:
    lookup = hashlib.sha256(secret_id.encode()).hexdigest()
    with contextlib.closing(sqlite3.connect(data_dir / "ronron.sqlite3")) as db:
        row = db.execute(
            "SELECT ciphertext, iv, salt, iterations FROM secrets_secret WHERE lookup = ?",
            (lookup,),
        ).fetchone()
    if row is None:
        return None
    return envelope.Sealed(ciphertext=row[0], iv=row[1], salt=row[2], iterations=row[3])


@pytest.fixture
def installation(tmp_path: Path) -> dict[str, str]:
    env = clean_env(
        tmp_path / "data",
        PYTHONPATH=str(REPO_ROOT),
        RONRON_LANGUAGE="en",
        RONRON_PUBLIC_URL="https://ronron.example.org",
    )
    subprocess.run(
        [sys.executable, "-m", "ronron", "migrate", "-v0"], env=env, cwd=tmp_path, check=True
    )
    return env


@pytest.mark.slow
def test_passphrase_is_asked_twice_on_the_terminal(
    installation: dict[str, str], tmp_path: Path
) -> None:
    code, out, err, shown = run_with_terminal(
        [sys.executable, "-m", "ronron", "secret", "new", "--passphrase"],
        env=installation,
        cwd=tmp_path,
        stdin=TEXT.encode(),
        answers=[("Passphrase: ", "chat perché 42"), ("Passphrase again: ", "chat perché 42")],
    )
    assert code == 0, err
    match = link_pattern("https://ronron.example.org").match(out.splitlines()[0])
    assert match, out
    secret_id, key = match.groups()
    assert "another channel" in out
    # Neither the passphrase nor the secret shows anywhere: not echoed, not printed.
    for where in (out, err, shown):
        assert "chat perché" not in where
        assert "trésorière" not in where

    sealed = secret_row(Path(installation["RONRON_DATA_DIR"]), secret_id)
    assert sealed is not None
    assert sealed.salt and sealed.iterations == envelope.ITERATIONS
    assert envelope.open_sealed(sealed, key, "chat perché 42") == TEXT
    with pytest.raises(envelope.WrongKey):
        envelope.open_sealed(sealed, key, "chat perche 42")
    with pytest.raises(envelope.WrongKey):
        envelope.open_sealed(sealed, key)


@pytest.mark.slow
def test_passphrases_that_differ_store_nothing(
    installation: dict[str, str], tmp_path: Path
) -> None:
    code, out, err, _shown = run_with_terminal(
        [sys.executable, "-m", "ronron", "secret", "new", "--passphrase"],
        env=installation,
        cwd=tmp_path,
        stdin=b"secret",
        answers=[("Passphrase: ", "un"), ("Passphrase again: ", "deux")],
    )
    assert code != 0
    assert "differ" in err
    assert "/secret/" not in out
    with contextlib.closing(
        sqlite3.connect(Path(installation["RONRON_DATA_DIR"]) / "ronron.sqlite3")
    ) as db:
        assert db.execute("SELECT count(*) FROM secrets_secret").fetchone() == (0,)


@pytest.mark.slow
def test_passphrase_without_a_terminal_is_refused(
    installation: dict[str, str], tmp_path: Path
) -> None:
    # A new session has no controlling terminal: nowhere to ask without echoing.
    done = subprocess.run(
        [sys.executable, "-m", "ronron", "secret", "new", "--passphrase"],
        env=installation,
        cwd=tmp_path,
        input=b"secret",
        capture_output=True,
        start_new_session=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert b"needs a terminal" in done.stderr
    assert b"/secret/" not in done.stdout
