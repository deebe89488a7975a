"""Of many reveals of one secret at the same instant, exactly one gets it: against a real
`ronron serve` (gunicorn processes, each with its own database connection), on SQLite and, in
the PostgreSQL run, on PostgreSQL."""

from __future__ import annotations

import dataclasses
import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ronron.secrets import envelope
from tests.serving import Served

pytestmark = pytest.mark.slow

REVEALS = 100
TEXT = "identifiant : admin\nmot de passe : 7Fq!zz-été"


def _opener() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def _post(opener, url: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the test built
        url,
        data=body,
        method="POST",
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    try:
        with opener.open(request, timeout=60) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def test_one_hundred_concurrent_reveals_give_the_secret_once(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**serve_env, "RONRON_SECRETS_REVEALS_PER_HOUR": str(REVEALS * 2)}
    served = Served(env, tmp_path, "--workers", "8", "--no-worker", "--no-prober")
    try:
        served.wait_until_up("/secret/")
        opener, jar = _opener()
        opener.open(served.base + "/secret/", timeout=30).read()
        token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")

        key, sealed = envelope.seal(TEXT)
        body = json.dumps({**dataclasses.asdict(sealed), "lifetime": 3600}).encode()
        status, answer = _post(opener, served.base + "/secret/", token, body)
        assert status == 201, answer
        url = served.base + json.loads(answer)["path"]

        start = threading.Barrier(REVEALS)
        results: list[tuple[int, bytes]] = []
        lock = threading.Lock()

        def reveal() -> None:
            start.wait()
            outcome = _post(opener, url, token)
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=reveal) for _ in range(REVEALS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        statuses = sorted(status for status, _body in results)
        assert len(results) == REVEALS
        # Exactly one reveal got the ciphertext; every other one a clean "gone", no error.
        assert statuses.count(200) == 1, statuses
        assert statuses.count(410) == REVEALS - 1, statuses
        winner = next(body for status, body in results if status == 200)
        assert envelope.open_sealed(envelope.Sealed(**json.loads(winner)), key) == TEXT
        assert _post(opener, url, token)[0] == 410
        # Every worker served some: the reveals really ran side by side.
        workers = set(re.findall(r"\[(\d+)\] \[INFO\] Booting worker", served.output))
        assert len(workers) == 8, served.output
    except Exception:
        print(served.output)
        raise
    finally:
        served.stop()
