"""The Sympa test stack works for real: lists made and read through Sympa's command line, a list
that follows a roster served over HTTP (Basic auth) on loopback, and mail captured, not sent."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack.sympa import SympaServer

OWNER = "camille@example.org"


def list_xml(listname: str, template: str = "discussion_list", extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<list>
  <listname>{listname}</listname>
  <type>{template}</type>
  <subject>Liste des adhérents</subject>
  <description>Pour tester</description>
  <status>open</status>
  <topics>other</topics>
  <owner multiple="1"><email>{OWNER}</email><gecos>Camille</gecos></owner>
  {extra}
</list>
"""


def create_list(sympa: SympaServer, robot: str, listname: str, **xml: str) -> None:
    request = sympa.base / f"{listname}@{robot}.xml"
    request.write_text(list_xml(listname, **xml), encoding="utf-8")
    done = sympa.run("create", f"--input_file={request}", robot)
    assert done.returncode == 0, done.stderr
    assert (sympa.list_dir(listname, robot) / "config").is_file()


def reviewed(sympa: SympaServer, address: str) -> set[str]:
    done = sympa.run("review", address, check=True)
    # First line: "N member(s) in list LIST@ROBOT.", then one address a line.
    return set(done.stdout.splitlines()[1:])


@pytest.fixture
def robot(sympa_server: SympaServer) -> Iterator[str]:
    robot = sympa_server.create_robot()
    yield robot
    sympa_server.remove_robot(robot)


def test_list_created_filled_closed_and_reopened(sympa_server: SympaServer, robot: str) -> None:
    create_list(sympa_server, robot, "adherents")
    address = f"adherents@{robot}"
    assert f"add adherents {robot}" in sympa_server.aliases_log.read_text()

    added = sympa_server.run(
        "add", "--quiet", address, input="alice@example.org Alice\nbob@example.org\n"
    )
    assert added.returncode == 0, added.stderr
    assert reviewed(sympa_server, address) == {"alice@example.org", "bob@example.org"}
    assert sympa_server.members("adherents", robot) == {"alice@example.org", "bob@example.org"}

    closed = sympa_server.run("close", address)
    assert closed.returncode == 0, closed.stderr
    assert "status closed" in (sympa_server.list_dir("adherents", robot) / "config").read_text()
    # Closing empties the database; the members wait in member.dump for a reopening.
    assert sympa_server.members("adherents", robot) == set()
    assert sympa_server.run("close", address).returncode == 1

    reopened = sympa_server.run("open", address)
    assert reopened.returncode == 0, reopened.stderr
    assert sympa_server.members("adherents", robot) == {"alice@example.org", "bob@example.org"}

    purged = sympa_server.run("close", "--mode=purge", address)
    assert purged.returncode == 0, purged.stderr
    assert not sympa_server.list_dir("adherents", robot).exists()
    assert sympa_server.run("review", address).returncode == 1


class RosterServer:
    """Serves rosters (one address a line) behind HTTP Basic auth on 127.0.0.1."""

    user = "sympa-list"
    password = "un-secret-par-liste"

    def __init__(self) -> None:
        self.rosters: dict[str, str] = {}
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        rosters = self.rosters

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="rosters"')
                    self.end_headers()
                    return
                body = rosters.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def roster_server() -> Iterator[RosterServer]:
    server = RosterServer()
    yield server
    server.stop()


def sync(sympa: SympaServer, address: str) -> str:
    # Sympa dates inclusions to the second and only drops members included before the sync
    # started: a second sync within the same second would keep departed members.
    time.sleep(1.05 - time.time() % 1)
    done = sympa.run("include", address)
    # Sympa exits 0 even when the data source failed: its report says how it went.
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_list_follows_a_roster_over_http(
    sympa_server: SympaServer, robot: str, roster_server: RosterServer
) -> None:
    roster_server.rosters["/rosters/adherents"] = (
        "alice@example.org Alice Martin\nbob@example.org\n# a comment\ncarol@example.org\n"
    )
    create_list(sympa_server, robot, "adherents")
    config = sympa_server.list_dir("adherents", robot) / "config"
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            "\ninclude_remote_file\n"
            "name ronron\n"
            f"url {roster_server.url('/rosters/adherents')}\n"
            f"user {roster_server.user}\n"
            f"passwd {roster_server.password}\n"
        )
    address = f"adherents@{robot}"

    assert "Inclusion succeeded (3 added, 0 deleted" in sync(sympa_server, address)
    assert sympa_server.members("adherents", robot) == {
        "alice@example.org",
        "bob@example.org",
        "carol@example.org",
    }

    roster_server.rosters["/rosters/adherents"] = "alice@example.org\ndave@example.org\n"
    report = sync(sympa_server, address)
    assert "1 added, 2 deleted" in report
    assert reviewed(sympa_server, address) == {"alice@example.org", "dave@example.org"}

    # Ronron unreachable: Sympa keeps the members it has.
    roster_server.stop()
    report = sync(sympa_server, address)
    assert "Inclusion entirely failed (0 added, 2 held" in report
    assert sympa_server.members("adherents", robot) == {"alice@example.org", "dave@example.org"}


def test_wrong_credential_keeps_members(
    sympa_server: SympaServer, robot: str, roster_server: RosterServer
) -> None:
    roster_server.rosters["/rosters/bureau"] = "alice@example.org\nbob@example.org\n"
    create_list(sympa_server, robot, "bureau")
    config = sympa_server.list_dir("bureau", robot) / "config"
    source = (
        "\ninclude_remote_file\nname ronron\n"
        f"url {roster_server.url('/rosters/bureau')}\nuser {roster_server.user}\n"
    )
    config.write_text(config.read_text() + source + f"passwd {roster_server.password}\n")
    sync(sympa_server, f"bureau@{robot}")
    assert sympa_server.members("bureau", robot) == {"alice@example.org", "bob@example.org"}

    config.write_text(config.read_text().replace(roster_server.password, "pas-le-bon"))
    roster_server.rosters["/rosters/bureau"] = "alice@example.org\n"
    assert "Inclusion entirely failed" in sync(sympa_server, f"bureau@{robot}")
    assert sympa_server.members("bureau", robot) == {"alice@example.org", "bob@example.org"}


def test_list_created_with_its_roster(
    sympa_server: SympaServer, robot: str, roster_server: RosterServer
) -> None:
    """A create_list template of the robot's own can take the data source from the XML, so that
    the list is created and filled in one command."""
    template = sympa_server.etc_dir / robot / "create_list_templates" / "roster_list"
    template.mkdir(parents=True)
    default = Path("/usr/share/sympa/default/create_list_templates/discussion_list/config.tt2")
    (template / "config.tt2").write_text(
        default.read_text() + "\n[% FOREACH source = include_remote_file -%]\n"
        "include_remote_file\n  name [% source.name %]\n  url [% source.url %]\n"
        "  user [% source.user %]\n  passwd [% source.passwd %]\n\n[% END -%]\n"
    )
    roster_server.rosters["/rosters/ca"] = "alice@example.org\nbob@example.org\n"
    source = (
        '<include_remote_file multiple="1"><name>ronron</name>'
        f"<url>{roster_server.url('/rosters/ca')}</url>"
        f"<user>{roster_server.user}</user><passwd>{roster_server.password}</passwd>"
        "</include_remote_file>"
    )
    create_list(sympa_server, robot, "ca", template="roster_list", extra=source)
    assert sympa_server.members("ca", robot) == {"alice@example.org", "bob@example.org"}


def test_mail_to_a_list_is_captured_and_archived(sympa_server: SympaServer, robot: str) -> None:
    create_list(sympa_server, robot, "annonces")
    sympa_server.run(
        "add", "--quiet", f"annonces@{robot}", input="alice@example.org\nbob@example.org\n"
    )
    sympa_server.clear_mail()
    sympa_server.submit(
        "annonces",
        robot,
        f"From: {OWNER}\nTo: annonces@{robot}\nSubject: Assemblee generale\n"
        f"Message-ID: <ag-2025@example.org>\n\nRendez-vous samedi.\n".encode(),
    )
    sympa_server.run_daemons_until_idle()

    sent = [m for m in sympa_server.captured_mail() if m["Subject"] == "Assemblee generale"]
    assert len(sent) == 1
    assert sent[0]["X-Envelope-Args"].endswith("-- alice@example.org bob@example.org")
    assert sent[0]["List-Id"] == f"<annonces.{robot}>"
    # One line per day: "DAYS-SINCE-EPOCH<TAB>MESSAGES".
    counts = (sympa_server.list_dir("annonces", robot) / "msg_count").read_text().split()
    assert counts[1] == "1"
    assert list((sympa_server.arc_dir / f"annonces@{robot}").glob("*/arctxt/1"))
