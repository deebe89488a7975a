"""The stand-in's ``occ``, run as the driver runs it (a subprocess), beyond what the recordings
replay: app-store apps installed on the server, group limits, and the console's errors."""

from __future__ import annotations

import json
import subprocess

import requests

from tests.stack.nextcloud import NextcloudStandIn

ADMIN = ("admin", "Adm1n-Passw0rd-2026")


def occ(standin: NextcloudStandIn, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*standin.occ_argv, *arguments], capture_output=True, text=True, timeout=60
    )


def create_group(standin: NextcloudStandIn, gid: str, name: str = "") -> None:
    response = requests.post(
        f"{standin.url}/ocs/v2.php/cloud/groups",
        headers={"OCS-APIRequest": "true"},
        auth=ADMIN,
        data={"groupid": gid, "displayname": name},
        timeout=10,
    )
    assert response.status_code == 200


def test_an_available_app_can_be_enabled_for_groups(nextcloud_standin: NextcloudStandIn) -> None:
    create_group(nextcloud_standin, "a0101", "Les Amis du Vélo")
    create_group(nextcloud_standin, "a0102")
    assert nextcloud_standin.app_enabled("deck") == "no"
    assert occ(nextcloud_standin, "config:app:get", "deck", "enabled").returncode == 1

    done = occ(nextcloud_standin, "app:enable", "--groups=a0101", "-g", "a0102", "deck")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "deck 1.11.0 enabled for groups: Les Amis du Vélo, a0102\n"
    assert nextcloud_standin.app_enabled("deck") == ["a0101", "a0102"]
    stored = occ(nextcloud_standin, "config:app:get", "deck", "enabled")
    assert stored.stdout == '["a0101","a0102"]\n'

    # A plain enable keeps the limit; a group that does not exist lifts it silently.
    assert occ(nextcloud_standin, "app:enable", "deck").stdout == "deck already enabled\n"
    assert nextcloud_standin.app_enabled("deck") == ["a0101", "a0102"]
    lifted = occ(nextcloud_standin, "app:enable", "--groups=nosuchgroup", "calendar")
    assert lifted.stdout == "calendar 4.5.0 enabled\n"
    assert nextcloud_standin.app_enabled("calendar") == "yes"

    listed = json.loads(occ(nextcloud_standin, "app:list", "--output=json").stdout)
    assert (listed["enabled"]["deck"], listed["disabled"]["onlyoffice"]) == ("1.11.0", "9.0.0")
    off = occ(nextcloud_standin, "app:disable", "deck")
    assert (off.returncode, off.stdout) == (0, "deck 1.11.0 disabled\n")
    assert nextcloud_standin.app_enabled("deck") == "no"
    shipped = json.loads(
        occ(nextcloud_standin, "app:list", "--shipped=false", "--output=json").stdout
    )
    assert shipped["disabled"]["deck"] == "1.11.0 (installed 1.11.0)"
    assert "files" not in shipped["enabled"]


def test_apps_occ_cannot_enable(nextcloud_standin: NextcloudStandIn) -> None:
    create_group(nextcloud_standin, "a0101")
    missing = occ(nextcloud_standin, "app:enable", "--groups=a0101", "Mail")
    assert (missing.returncode, missing.stdout) == (1, "Could not download app mail\n")
    refused = occ(nextcloud_standin, "app:enable", "--groups=a0101", "password_policy")
    assert (refused.returncode, refused.stdout) == (
        1,
        "password_policy can't be enabled for groups.\n",
    )
    # As in Nextcloud, the failed attempt leaves the app disabled.
    assert nextcloud_standin.app_enabled("password_policy") == "no"


def test_the_console_refuses_what_it_does_not_know(nextcloud_standin: NextcloudStandIn) -> None:
    unknown = occ(nextcloud_standin, "user:delete", "camille")
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert 'Command "user:delete" is not defined.' in unknown.stderr
    missing = occ(nextcloud_standin, "app:enable")
    assert missing.returncode == 1
    assert 'Not enough arguments (missing: "app-id").' in missing.stderr
    bad_option = occ(nextcloud_standin, "app:list", "--colour")
    assert 'The "--colour" option does not exist.' in bad_option.stderr
    address = occ(nextcloud_standin, "security:bruteforce:reset", "not-an-address")
    assert (address.returncode, address.stdout) == (
        1,
        '"not-an-address" is not a valid IP address\n',
    )


def test_the_brute_force_lock_out_is_lifted_by_occ(nextcloud_standin: NextcloudStandIn) -> None:
    url = f"{nextcloud_standin.url}/ocs/v2.php/cloud/users"
    headers = {"OCS-APIRequest": "true"}
    for _ in range(12):
        requests.get(url, headers=headers, auth=("admin", "wrong"), timeout=10)
    assert requests.get(url, headers=headers, auth=ADMIN, timeout=10).status_code == 500
    reset = occ(nextcloud_standin, "security:bruteforce:reset", "127.0.0.1")
    assert (reset.returncode, reset.stdout, reset.stderr) == (0, "", "")
    assert requests.get(url, headers=headers, auth=ADMIN, timeout=10).status_code == 200


def test_user_info_before_and_after_the_first_login(nextcloud_standin: NextcloudStandIn) -> None:
    requests.post(
        f"{nextcloud_standin.url}/ocs/v2.php/cloud/users",
        headers={"OCS-APIRequest": "true"},
        auth=ADMIN,
        data={"userid": "camille", "password": "Un-Mot-De-Passe-Solide-26", "quota": "2 GB"},
        timeout=10,
    )
    before = json.loads(occ(nextcloud_standin, "user:info", "Camille", "--output=json").stdout)
    assert (before["user_id"], before["quota"], before["storage"]) == ("camille", "2 GB", [])
    assert before["last_seen"] == "1970-01-01T00:00:00+00:00"
    nextcloud_standin.login("camille")
    after = json.loads(occ(nextcloud_standin, "user:info", "camille", "--output=json").stdout)
    assert after["storage"]["quota"] == 2 * 1024**3
    assert occ(nextcloud_standin, "user:info", "nobody").stdout == "user not found\n"
