"""The whole chain, as a hoster runs it: `ronron probe` in its own process watches targets on
loopback; when several go down together, the admins receive ONE message on a real SMTP server,
and one more when they come back."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.monitoring.test_alerts import Mailbox
from tests.monitoring.test_prober import REPO_ROOT, _HttpTarget, _ronron
from tests.serving import free_port

ADMINS = "admins@hoster.example"


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


@pytest.mark.slow
def test_checks_failing_together_reach_the_admins_in_one_message(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        **serve_env,
        "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}",
        "RONRON_EMAIL_HOST": "127.0.0.1",
        "RONRON_EMAIL_PORT": str(smtp.port),
        "RONRON_MONITORING_ALERT_EMAILS": ADMINS,
        "RONRON_MONITORING_FAILURES_BEFORE_ALERT": "2",
        "RONRON_MONITORING_SUCCESSES_BEFORE_RESOLVE": "1",
        "RONRON_MONITORING_GROUP_SECONDS": "10",
    }
    _ronron(env, "migrate", "-v0")
    target = _HttpTarget()  # not started: the sites are down from the start
    port = target.port
    names = ["velo.example.org", "jardins.example.org", "radio.example.org"]
    _ronron(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from ronron.monitoring.models import Check\n"
        f"for name in {names!r}: Check.objects.create(name=name, kind='http', interval_s=1, "
        f"timeout_s=1, target=f'http://127.0.0.1:{port}/' + name)",
    )
    log = (tmp_path / "prober.log").open("ab")
    prober = subprocess.Popen(
        [sys.executable, "-m", "ronron", "probe"], env=env, cwd=REPO_ROOT, stderr=log
    )
    try:
        _wait_for(lambda: box.to(ADMINS), 40, "the alert")
        time.sleep(4)  # a second message would have come by now (every 2 s a batch)
        down = box.to(ADMINS)
        assert len(down) == 1
        body = down[0].get_body(preferencelist=("plain",)).get_content()
        assert all(name in body for name in names)

        target.start()
        _wait_for(lambda: len(box.to(ADMINS)) >= 2, 40, "the all-clear")
        time.sleep(4)
        assert len(box.to(ADMINS)) == 2
        back = box.to(ADMINS)[1].get_body(preferencelist=("plain",)).get_content()
        assert all(name in back for name in names)
    finally:
        prober.terminate()
        prober.wait(30)
        log.close()
        smtp.stop()
        target.stop()
