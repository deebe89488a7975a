"""The Host contract, one set of tests for every kind of host: this machine, and a real OpenSSH
server on 127.0.0.1 (tests/stack/sshd.py). What drivers rely on must hold for both."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ronron.fleet.actions import create_server
from ronron.fleet.hosts import Host, HostError, LocalHost, host_for
from ronron.fleet.layout import Layout
from ronron.fleet.ssh import SSHHost
from tests.stack.sshd import SSHServer, keygen


def ssh_host(server: SSHServer, **overrides: str) -> SSHHost:
    values = {"private_key": server.private_key, "host_key": server.host_key, **overrides}
    return SSHHost(
        "test-ssh",
        Layout(),
        address=server.host,
        port=server.port,
        user=server.user,
        private_key=values["private_key"],
        host_key=values["host_key"],
    )


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest) -> Iterator[Host]:
    if request.param == "local":
        yield LocalHost("test-local", Layout())
        return
    with ssh_host(request.getfixturevalue("sshd")) as remote:
        yield remote


TRICKY_ARGUMENTS = [
    "two words",
    'it\'s "quoted"',
    "$(touch {canary})",
    "`touch {canary}`",
    "; touch {canary}",
    "&& touch {canary} ||",
    "| tee {canary}",
    "> {canary}",
    "$HOME",
    "*",
    "",
    "-n",
    "tab\there",
    "accentué ✓",
]


def test_arguments_reach_the_command_literally(host: Host, tmp_path: Path) -> None:
    canary = tmp_path / "injected"
    arguments = [a.format(canary=canary) for a in TRICKY_ARGUMENTS]
    result = host.run(["printf", "%s\\n", *arguments])
    assert result.ok
    assert result.stdout.split("\n")[:-1] == arguments
    assert not canary.exists(), "an argument was interpreted by a shell"


def test_input_goes_to_standard_input(host: Host) -> None:
    secret = "mot de passe: s3cr3t'\"$(id)\nsecond line\n"
    assert host.run(["cat"], input=secret).stdout == secret
    assert host.run(["wc", "-c"], input=b"\x00\x01\x02").stdout.strip() == "3"


def test_large_output_and_input_are_not_truncated(host: Host) -> None:
    data = "ligne\n" * 1_000_000
    assert host.run(["cat"], input=data).stdout == data


def test_failure_raises_when_checked_and_returns_otherwise(host: Host) -> None:
    argv = ["sh", "-c", "echo dehors; echo erreur >&2; exit 3"]
    with pytest.raises(HostError, match="exited with 3"):
        host.run(argv)
    result = host.run(argv, check=False)
    assert (result.returncode, result.ok) == (3, False)
    assert result.stdout == "dehors\n"
    assert result.stderr == "erreur\n"
    assert result.output == "dehors\nerreur"


def test_timeout_stops_the_command(host: Host, tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    with pytest.raises(HostError, match="no answer after"):
        host.run(["sh", "-c", f"sleep 1; touch {marker}"], timeout=0.3)
    assert host.run(["true"]).ok, "the host stays usable after a timeout"
    time.sleep(1.2)
    assert not marker.exists(), "the command went on after its time was up"


def test_unknown_command_is_reported(host: Host) -> None:
    with pytest.raises(HostError, match="command not found"):
        host.run(["ronron-no-such-command", "x"], check=False)


def test_commands_must_be_lists_of_strings(host: Host) -> None:
    for argv in ([], ["echo", 3], ["echo", "a\x00b"]):
        with pytest.raises(HostError):
            host.run(argv)  # type: ignore[arg-type]


def test_write_file_with_mode_owner_and_group(host: Host, tmp_path: Path) -> None:
    target = tmp_path / "site.conf"
    host.write_file(str(target), "server { }\n", mode=0o640, owner="nobody", group="nogroup")
    assert host.read_file(str(target)) == b"server { }\n"
    info = target.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert pwd.getpwuid(info.st_uid).pw_name == "nobody"
    assert grp.getgrgid(info.st_gid).gr_name == "nogroup"

    host.write_file(str(target), b"\x00binary\xff", mode=0o600)
    assert host.read_file(str(target)) == b"\x00binary\xff"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf"], "no temporary file left"


def test_write_file_replaces_the_file_atomically(host: Host, tmp_path: Path) -> None:
    # A reader holding the old file keeps the old content whole: the new one is renamed over it,
    # never truncated and rewritten in place.
    target = tmp_path / "pool.conf"
    target.write_text("old\n")
    reader = tmp_path / "reader"
    os.link(target, reader)
    host.write_file(str(target), "new\n")
    assert host.read_file(str(target)) == b"new\n"
    assert reader.read_text() == "old\n"
    assert target.stat().st_ino != reader.stat().st_ino


def test_write_file_with_unknown_owner_fails_and_leaves_nothing(host: Host, tmp_path: Path) -> None:
    target = tmp_path / "x.conf"
    with pytest.raises(HostError):
        host.write_file(str(target), "x", owner="ronron-no-such-user")
    assert list(tmp_path.iterdir()) == []


def test_write_file_in_a_missing_directory_fails(host: Host, tmp_path: Path) -> None:
    with pytest.raises(HostError, match="cannot write"):
        host.write_file(str(tmp_path / "missing" / "x.conf"), "x")


@pytest.mark.parametrize(
    "path",
    [
        "relative/site.conf",
        "/tmp/../etc/passwd",
        "/tmp/a/..",
        "/tmp/a\nb",
        "/tmp/a\rb",
        "/tmp/a\0b",
    ],
)
def test_unsafe_paths_are_refused(host: Host, path: str) -> None:
    with pytest.raises(HostError, match="unsafe path"):
        host.write_file(path, "x")
    with pytest.raises(HostError, match="unsafe path"):
        host.read_file(path)
    with pytest.raises(HostError, match="unsafe path"):
        host.exists(path)


def test_read_missing_file_fails(host: Host, tmp_path: Path) -> None:
    with pytest.raises(HostError, match="cannot read"):
        host.read_file(str(tmp_path / "nothing"))


def test_exists(host: Host, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert host.exists(str(tmp_path / "file"))
    assert host.exists(str(tmp_path))
    assert host.exists(str(tmp_path / "dangling")), "a dangling link is still something there"
    assert not host.exists(str(tmp_path / "nowhere"))


# SSH only ------------------------------------------------------------------------------------


def test_ssh_reuses_one_connection_until_closed(sshd: SSHServer) -> None:
    def client_port(remote: SSHHost) -> str:
        return remote.run(["sh", "-c", 'echo "$SSH_CONNECTION"']).stdout.split()[1]

    remote = ssh_host(sshd)
    first = client_port(remote)
    assert client_port(remote) == first
    remote.close()
    assert remote.run(["true"]).ok, "a closed host connects again when used"
    remote.close()


def test_ssh_refuses_a_server_whose_host_key_changed(
    sshd: SSHServer,
    tmp_path: Path,
) -> None:
    keygen(tmp_path / "other")
    other = (tmp_path / "other.pub").read_text().strip()
    with (
        ssh_host(sshd, host_key=other) as remote,
        pytest.raises(HostError, match="not the recorded one"),
    ):
        remote.run(["true"])
        with pytest.raises(HostError, match="not the recorded one"):
            remote.exists("/")


def test_ssh_refuses_a_server_without_recorded_host_key(sshd: SSHServer) -> None:
    with (
        ssh_host(sshd, host_key="") as remote,
        pytest.raises(HostError, match="no SSH host key recorded"),
    ):
        remote.run(["true"])


def test_ssh_refuses_an_unreadable_host_key(sshd: SSHServer) -> None:
    with (
        ssh_host(sshd, host_key="ssh-ed25519 not-base64!") as remote,
        pytest.raises(HostError, match="host key unusable"),
    ):
        remote.run(["true"])


def test_ssh_with_an_rsa_key(sshd: SSHServer) -> None:
    with ssh_host(sshd, private_key=sshd.rsa_private_key) as remote:
        assert remote.run(["id", "-un"]).stdout.strip() == "root"


def test_ssh_with_a_key_the_server_does_not_know(sshd: SSHServer, tmp_path: Path) -> None:
    keygen(tmp_path / "stranger")
    with (
        ssh_host(sshd, private_key=(tmp_path / "stranger").read_text()) as remote,
        pytest.raises(HostError, match="refused our SSH key"),
    ):
        remote.run(["true"])


def test_ssh_host_repr_never_shows_the_key(sshd: SSHServer) -> None:
    remote = ssh_host(sshd)
    assert "PRIVATE" not in repr(remote) and sshd.private_key[40:80] not in repr(remote)


@pytest.mark.django_db
def test_a_server_reached_over_ssh_gets_an_ssh_host(sshd: SSHServer) -> None:
    server = create_server(
        actor=None,
        name="distant",
        host_kind="ssh",
        address=sshd.host,
        port=sshd.port,
        ssh_user=sshd.user,
        private_key=sshd.private_key,
        host_key=sshd.host_key,
        layout={"sites_root": "/srv/elsewhere"},
    )
    server.refresh_from_db()
    remote = host_for(server)
    assert isinstance(remote, SSHHost)
    assert remote.layout.sites_root == "/srv/elsewhere"
    try:
        assert (
            remote.run(["hostname"]).stdout
            == subprocess.run(["hostname"], capture_output=True, text=True, check=True).stdout
        )
    finally:
        remote.close()
