"""The stand-in Nextcloud is faithful: every exchange recorded from a real Nextcloud 27.1.0
(``tests/fixtures/nextcloud-27/``, a copy of the team's recordings; see its README) is
replayed against one fresh stand-in, in the numeric order of the files, and must get the
same status, Content-Type and body, byte for byte; then the recorded ``occ`` commands, same
exit code and output.

The replay sends what the recording client sent, with the credentials the README names, and
between exchanges does only what the recordings say an operator did. It never reads an answer
to decide what to send next.
"""

from __future__ import annotations

import base64
import http.client
import json
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from tests.stack.nextcloud import NextcloudStandIn

# A copy of the team's recordings (shared/fixtures/nextcloud-27), kept with the tests so that a
# fresh clone replays them.
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nextcloud-27"
RECORDED = sorted(FIXTURES.glob("*.json"), key=lambda path: int(path.name.split("_")[0]))
RECORDED_OCC = sorted((FIXTURES / "occ").glob("occ_*.json"))

ADMIN_PASSWORD = "Adm1n-Passw0rd-2026"
# The accounts' passwords are in the recorded creation requests (20_, 21_).
ALICE = ("alice", "Str0ng-Passw0rd!2026x")
BOB = ("bob", "Str0ng-Passw0rd!2026x")
ADMIN = ("admin", ADMIN_PASSWORD)

# The recording client talked to 127.0.0.1:8081; http.client sent that as the Host header, from
# which Nextcloud builds the absolute URLs in its answers (capabilities).
RECORDED_HOST = "127.0.0.1:8081"
# The recorded server's `overwrite.cli.url`, which occ puts in cloud ids.
RECORDED_CLI_URL = "http://127.0.0.1:8081"
# The free space of the recorded server's disk (reported for an unlimited quota, 01_).
RECORDED_DISK_FREE = 82_375_606_272
# The clock when the admin first logged in (00_, whose lastLogin 01_ shows) and when alice did
# (170_, whose lastLogin 172_ shows and occ_11 prints as last_seen).
ADMIN_FIRST_LOGIN = 1_795_266_026
ALICE_FIRST_LOGIN = 1_795_266_070
# The occ commands ran after 241_ and before 242_: occ_11 shows alice's quota as 3 GB, which
# 242_ changes to 1.5 GB, and occ_07 disables password_policy, still enabled in 230_/231_.
OCC_AFTER = 241


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str | None
    body: bytes


def _number(path: Path) -> int:
    return int(path.name.split("_")[0])


def _credentials(name: str) -> tuple[str, str] | None:
    """Who the README says each exchange authenticated as."""
    if "no_auth" in name:
        return None
    if "non_admin" in name:
        return ALICE
    if name.startswith("190_"):
        return BOB
    if "unknown_user" in name:
        return ("nosuchuser", "Str0ng-Passw0rd!2026x")
    if "wrong_password" in name:
        return ("admin", "not-the-admin-password")
    return ADMIN


def _before(standin: NextcloudStandIn, number: int) -> None:
    """What happened on the server between exchanges, as the recordings tell it."""
    if number == 0:
        standin.set_clock(ADMIN_FIRST_LOGIN)
    elif number == 170:
        standin.set_clock(ALICE_FIRST_LOGIN)
    elif number == 190:
        # 190_'s note: "bob is disabled" (109_ still showed him enabled).
        standin.set_enabled("bob", False)
    elif number == 221:
        # 221_'s note: "after an operator ran the bruteforce reset for 127.0.0.1".
        standin.reset_bruteforce("127.0.0.1")


def _send(standin: NextcloudStandIn, name: str, request: dict[str, Any]) -> Answer:
    headers: dict[str, str] = {"Host": RECORDED_HOST}
    for header, value in request["headers"].items():
        if header == "Authorization":
            login, password = _credentials(name) or ("", "")
            value = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
        headers[header] = value
    target = request["path"]
    if request["query"]:
        target += "?" + urlencode(request["query"])
    body = urlencode(request["form"], doseq=True) if request["form"] is not None else None
    netloc = urlsplit(standin.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=30)
    try:
        connection.request(request["method"], target, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type"), response.read())
    finally:
        connection.close()


def _run_occ(standin: NextcloudStandIn, command: str) -> subprocess.CompletedProcess[str]:
    arguments = shlex.split(command)
    assert arguments[0] == "occ"
    return subprocess.run(
        [*standin.occ_argv, *arguments[1:]], capture_output=True, text=True, timeout=60
    )


@dataclass
class Replay:
    answers: dict[str, Answer]
    occ: dict[str, subprocess.CompletedProcess[str]]
    requests: list[tuple[str, str, str | None, int]]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    standin = NextcloudStandIn(
        data_dir=tmp_path_factory.mktemp("nc-replay") / "data",
        admin_password=ADMIN_PASSWORD,
        storage_location_root="/var/lib/nextcloud/data",
        disk_free=RECORDED_DISK_FREE,
        cli_url=RECORDED_CLI_URL,
    )
    standin.start()
    answers: dict[str, Answer] = {}
    occ: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for path in RECORDED:
            recorded = json.loads(path.read_text())
            _before(standin, _number(path))
            answers[path.name] = _send(standin, path.name, recorded["request"])
            if _number(path) == OCC_AFTER:
                for occ_path in RECORDED_OCC:
                    command = json.loads(occ_path.read_text())["command"]
                    occ[occ_path.name] = _run_occ(standin, command)
        yield Replay(answers, occ, standin.requests)
    finally:
        standin.stop()


def test_every_recorded_exchange_is_replayed(replay: Replay) -> None:
    assert len(RECORDED) == 174
    assert list(replay.answers) == [path.name for path in RECORDED]
    sent = [(method, path) for method, path, _user, _status in replay.requests]
    expected = []
    for path in RECORDED:
        request = json.loads(path.read_text())["request"]
        expected.append((request["method"], request["path"]))
    assert sent == expected
    assert len(RECORDED_OCC) == 19
    assert list(replay.occ) == [path.name for path in RECORDED_OCC]


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
def test_exchange_matches_the_recording(replay: Replay, path: Path) -> None:
    recorded = json.loads(path.read_text())["response"]
    answer = replay.answers[path.name]
    assert answer.status == recorded["status"]
    assert answer.content_type == recorded["headers"]["Content-Type"]
    assert answer.body == recorded["body"].encode("utf-8")


@pytest.mark.parametrize("path", RECORDED_OCC, ids=[path.stem for path in RECORDED_OCC])
def test_occ_command_matches_the_recording(replay: Replay, path: Path) -> None:
    recorded = json.loads(path.read_text())
    result = replay.occ[path.name]
    assert result.returncode == recorded["exit_code"]
    assert result.stdout == recorded["stdout"]
    assert result.stderr == recorded["stderr"]


# ---- behaviours the driver relies on that the recordings show only indirectly ---------------

GB = 1024**3
PASSWORD = "Un-Mot-De-Passe-Solide-26"


def ocs(
    standin: NextcloudStandIn,
    method: str,
    path: str,
    *,
    auth: tuple[str, str] | None = ADMIN,
    version: int = 2,
    **form: Any,
) -> requests.Response:
    """An OCS call in JSON; ``form`` is the request's form (``groups[]`` lists included)."""
    return requests.request(
        method,
        f"{standin.url}/ocs/v{version}.php/cloud{path}",
        params={"format": "json"},
        headers={"OCS-APIRequest": "true"},
        auth=auth,
        data=form,
        timeout=10,
    )


def record(standin: NextcloudStandIn, userid: str) -> dict[str, Any]:
    found = standin.user(userid)
    assert found is not None, userid
    return found


def meta(response: requests.Response) -> tuple[int, int, str]:
    found = response.json()["ocs"]["meta"]
    return response.status_code, found["statuscode"], found["message"]


def test_user_ids_are_unique_whatever_their_case(nextcloud_standin: NextcloudStandIn) -> None:
    assert meta(ocs(nextcloud_standin, "POST", "/users", userid="Camille", password=PASSWORD))[
        :2
    ] == (200, 200)
    for variant in ("camille", "CAMILLE", "cAmIlLe"):
        refused = ocs(nextcloud_standin, "POST", "/users", userid=variant, password=PASSWORD)
        assert meta(refused) == (400, 102, "User already exists")
    found = ocs(nextcloud_standin, "GET", "/users/camille").json()["ocs"]["data"]
    assert found["id"] == "Camille"
    assert record(nextcloud_standin, "CAMILLE")["id"] == "Camille"
    # The login is case-insensitive too, and answers with the stored id.
    me = ocs(nextcloud_standin, "GET", "/user", auth=("CAMILLE", PASSWORD))
    assert me.json()["ocs"]["data"]["id"] == "Camille"


def test_a_failed_creation_can_leave_a_half_made_account(
    nextcloud_standin: NextcloudStandIn,
) -> None:
    ocs(nextcloud_standin, "POST", "/groups", groupid="a0101")
    nextcloud_standin.fail_create_after_user("CAMILLE")
    full: dict[str, Any] = {
        "displayName": "Camille Martin",
        "email": "camille@velo.example",
        "quota": "5 GB",
    }
    groups: dict[str, Any] = {"groups[]": ["a0101"]}
    failed = ocs(
        nextcloud_standin, "POST", "/users", userid="camille", password=PASSWORD, **full, **groups
    )
    assert failed.status_code == 500
    assert failed.text == (
        '{"ocs":{"meta":{"status":"failure","statuscode":500,'
        '"message":"Internal Server Error\\n"},"data":[]}}'
    )
    camille = record(nextcloud_standin, "camille")
    assert (camille["displayname"], camille["email"], camille["groups"]) == ("camille", None, [])
    assert camille["quota"] == {"quota": "none", "used": 0}
    assert (nextcloud_standin.data_dir / "camille" / "files").is_dir()
    # Retrying the same creation now meets the half-made account.
    again = ocs(nextcloud_standin, "POST", "/users", userid="camille", password=PASSWORD, **full)
    assert meta(again) == (400, 102, "User already exists")
    # Over OCS v1 the same failure is statuscode 996 in an HTTP 200.
    nextcloud_standin.fail_create_after_user("dominique")
    v1 = ocs(nextcloud_standin, "POST", "/users", version=1, userid="dominique", password=PASSWORD)
    assert meta(v1) == (200, 996, "Internal Server Error\n")


def test_accounts_have_their_data_directory(nextcloud_standin: NextcloudStandIn) -> None:
    home = nextcloud_standin.data_dir / "eve"
    ocs(nextcloud_standin, "POST", "/users", userid="eve", password=PASSWORD)
    assert (home / "files").is_dir()
    data = ocs(nextcloud_standin, "GET", "/users/eve").json()["ocs"]["data"]
    assert data["storageLocation"] == str(home)
    (home / "files" / "notes.txt").write_text("AG")
    assert meta(ocs(nextcloud_standin, "DELETE", "/users/eve"))[:2] == (200, 200)
    assert not home.exists()
    # Leftover files under that name block a new account, as in Nextcloud.
    (home / "files").mkdir(parents=True)
    blocked = ocs(nextcloud_standin, "POST", "/users", userid="eve", password=PASSWORD)
    assert meta(blocked) == (
        400,
        101,
        "Username is invalid because files already exist for this user",
    )


def test_failed_logins_lock_the_address_out_until_reset(
    nextcloud_standin: NextcloudStandIn,
) -> None:
    wrong = ("admin", "not-the-password")
    for attempt in range(11):
        refused = ocs(nextcloud_standin, "GET", "/users", auth=wrong)
        assert (refused.status_code, refused.headers["Content-Type"]) == (
            401,
            "text/xml; charset=UTF-8",
        ), attempt
        if attempt == 2:
            caps = ocs(nextcloud_standin, "GET", "/capabilities", auth=None).json()
            assert caps["ocs"]["data"]["capabilities"]["bruteforce"]["delay"] == 800
    for auth in (wrong, ADMIN):
        assert meta(ocs(nextcloud_standin, "GET", "/users", auth=auth)) == (
            500,
            500,
            "Internal Server Error\n",
        )
    nextcloud_standin.reset_bruteforce("127.0.0.1")
    assert ocs(nextcloud_standin, "GET", "/users").status_code == 200
    # A disabled account's right password is refused without counting as an attack.
    ocs(nextcloud_standin, "POST", "/users", userid="bruno", password=PASSWORD)
    ocs(nextcloud_standin, "PUT", "/users/bruno/disable")
    for _ in range(12):
        assert ocs(nextcloud_standin, "GET", "/user", auth=("bruno", PASSWORD)).status_code == 401
    assert ocs(nextcloud_standin, "GET", "/users").status_code == 200


def test_the_throttle_waits_as_recorded(tmp_path: Path) -> None:
    standin = NextcloudStandIn(data_dir=tmp_path / "data", delay_scale=0.01)
    standin.start()
    try:
        elapsed = []
        for _ in range(4):
            started = time.monotonic()
            ocs(standin, "GET", "/users", auth=("admin", "wrong-password"))
            elapsed.append(time.monotonic() - started)
        # 0.2 s, 0.2 s, 0.4 s, 0.8 s in Nextcloud (200_ to 203_), here a hundredth of that.
        assert elapsed[3] > elapsed[2] > 0.003
        assert elapsed[3] >= 0.008
    finally:
        standin.stop()


def test_quotas_are_stored_as_nextcloud_rounds_them(nextcloud_standin: NextcloudStandIn) -> None:
    ocs(nextcloud_standin, "POST", "/users", userid="camille", password=PASSWORD)
    for given, stored in (
        ("10 GB", 10 * GB),
        (str(10 * GB), 10 * GB),
        ("1.5 GB", 1_610_612_736),
        # Nextcloud keeps a quota as text with one decimal: bytes are rounded.
        (str(50 * GB // 3), 17_931_488_461),
        ("none", "none"),
    ):
        assert ocs(nextcloud_standin, "PUT", "/users/camille", key="quota", value=given).ok
        assert record(nextcloud_standin, "camille")["quota"]["quota"] == stored, given


def test_usage_shows_once_the_home_is_set_up(nextcloud_standin: NextcloudStandIn) -> None:
    ocs(nextcloud_standin, "POST", "/users", userid="camille", password=PASSWORD, quota="10 GB")
    assert record(nextcloud_standin, "camille")["quota"] == {"quota": 10 * GB, "used": 0}
    nextcloud_standin.set_used("camille", 3 * GB)
    quota = record(nextcloud_standin, "camille")["quota"]
    assert (quota["used"], quota["quota"], quota["total"]) == (3 * GB, 10 * GB, 10 * GB)
    assert (quota["free"], quota["relative"]) == (7 * GB, 30)
    assert record(nextcloud_standin, "camille")["lastLogin"] == 0
    nextcloud_standin.set_clock(1_800_000_000)
    nextcloud_standin.login("camille")
    assert record(nextcloud_standin, "camille")["lastLogin"] == 1_800_000_000_000
