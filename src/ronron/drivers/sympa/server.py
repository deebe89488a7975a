"""Sympa on one server, through its host: the ``sympa`` command line, robots, list configs.

Sympa's exit codes do not tell everything (``sympa include`` exits 0 when its source failed),
so every report it prints on stderr (``ACTION [notice|user|intern] text``) is read. Names that
reach a command or a path were validated by ``spec.py``; they are checked again here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ronron.drivers.sympa.spec import validate_list_name
from ronron.fleet.hosts import HostError, Result, check_path

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host

CONFIG_MODE = 0o640
# The name of the data source Ronron writes in a list's config; other sources are the list's.
SOURCE_NAME = "ronron"
# Seconds Sympa waits for the roster feed before it gives up and keeps the members it has.
FEED_TIMEOUT = 30
_ROBOT = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?:\.(?!-)[a-z0-9-]{1,63})+$")


class SympaError(HostError):
    """Sympa refused or failed; the message carries what it said."""


def check_robot(robot: str) -> str:
    if not _ROBOT.fullmatch(robot or ""):
        raise SympaError(f"refusing an unsafe list domain: {robot!r}")
    return robot


def check_list(name: str, robot: str) -> str:
    validate_list_name(name)
    check_robot(robot)
    return f"{name}@{robot}"


def sympa_env_prefix(host: Host) -> list[str]:
    """``env VAR=…`` before any Sympa program, when the layout gives Sympa an environment."""
    return ["env", *host.layout.sympa_env] if host.layout.sympa_env else []


def sympa_argv(host: Host, *args: str) -> list[str]:
    return [*sympa_env_prefix(host), *host.layout.sympa, *args]


def run_sympa(host: Host, *args: str, input: str | None = None, timeout: float = 300) -> Result:
    return host.run(sympa_argv(host, *args), input=input, check=False, timeout=timeout)


def reports(result: Result) -> list[str]:
    """Sympa's report lines, without the noise of Perl warnings."""
    return [
        line.strip()
        for line in result.stderr.splitlines()
        if re.match(r"^[a-z_]+ \[(notice|user|intern|error)\] ", line.strip())
    ]


def _failed(what: str, result: Result) -> SympaError:
    said = "; ".join(reports(result)) or result.output[-1000:] or f"exit {result.returncode}"
    return SympaError(f"{what}: {said}")


# --- robots ------------------------------------------------------------------------------------


def robot_paths(host: Host, robot: str) -> tuple[str, str]:
    layout = host.layout
    check_robot(robot)
    return (
        check_path(f"{layout.sympa_etc}/{robot}/robot.conf"),
        check_path(f"{layout.sympa_list_data}/{robot}"),
    )


def robot_exists(host: Host, robot: str) -> bool:
    conf, lists = robot_paths(host, robot)
    return host.exists(conf) and host.exists(lists)


def ensure_robot(host: Host, robot: str) -> str:
    """A robot is its ``robot.conf`` and its list directory; Sympa reads them at every command."""
    conf, lists = robot_paths(host, robot)
    user = host.layout.sympa_user
    created = []
    for directory in (conf.rsplit("/", 1)[0], lists):
        if not host.exists(directory):
            host.run(["install", "-d", "-m", "0755", "-o", user, "-g", user, directory])
            created.append(directory)
    if not host.exists(conf):
        host.write_file(conf, f"wwsympa_url\thttps://{robot}/sympa\n", 0o644, user, user)
        created.append(conf)
    return f"list domain {robot} ready" + (f" (created {', '.join(created)})" if created else "")


def robots(host: Host) -> list[str]:
    """The list domains Sympa serves on this server."""
    layout = host.layout
    result = host.run(
        [
            "find",
            check_path(layout.sympa_etc),
            "-mindepth",
            "2",
            "-maxdepth",
            "2",
            "-name",
            "robot.conf",
            "-printf",
            "%h\\0",
        ],
        check=False,
    )
    found = []
    for directory in result.stdout.split("\0"):
        robot = directory.rsplit("/", 1)[-1]
        if (
            directory
            and _ROBOT.fullmatch(robot)
            and host.exists(f"{layout.sympa_list_data}/{robot}")
        ):
            found.append(robot)
    return sorted(found)


def lists_of_robot(host: Host, robot: str) -> list[str]:
    """Every list with a config under the robot, whatever its status."""
    _conf, directory = robot_paths(host, robot)
    result = host.run(
        [
            "find",
            directory,
            "-mindepth",
            "2",
            "-maxdepth",
            "2",
            "-name",
            "config",
            "-printf",
            "%h\\0",
        ],
        check=False,
    )
    return sorted(path.rsplit("/", 1)[-1] for path in result.stdout.split("\0") if path)


# --- list config -------------------------------------------------------------------------------


def list_dir(host: Host, name: str, robot: str) -> str:
    check_list(name, robot)
    return check_path(f"{host.layout.sympa_list_data}/{robot}/{name}")


def archive_dir(host: Host, name: str, robot: str) -> str:
    check_list(name, robot)
    return check_path(f"{host.layout.sympa_arc}/{name}@{robot}")


def paragraphs(text: str) -> list[list[str]]:
    """A list config: paragraphs separated by blank lines; ``#`` lines are comments."""
    found: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if current:
                found.append(current)
                current = []
        elif not line.lstrip().startswith("#"):
            current.append(line.strip())
    if current:
        found.append(current)
    return found


def paragraph_values(paragraph: list[str]) -> dict[str, str]:
    values = {}
    for line in paragraph[1:]:
        key, _sep, value = line.partition(" ")
        values[key] = value.strip()
    return values


@dataclass(frozen=True)
class ListConfig:
    status: str  # open, closed, pending, family_closed…
    subject: str
    source: dict[str, str] | None  # Ronron's include_remote_file paragraph, if any


def read_config(host: Host, name: str, robot: str) -> ListConfig | None:
    path = f"{list_dir(host, name, robot)}/config"
    if not host.exists(path):
        return None
    text = host.read_file(path).decode("utf-8", "replace")
    status, subject, source = "open", "", None
    for paragraph in paragraphs(text):
        key, _sep, value = paragraph[0].partition(" ")
        if key == "status" and len(paragraph) == 1:
            status = value.strip()
        elif key == "subject" and len(paragraph) == 1:
            subject = value.strip()
        elif key == "include_remote_file":
            values = paragraph_values(paragraph)
            if values.get("name") == SOURCE_NAME:
                source = values
    return ListConfig(status, subject, source)


def source_paragraph(url: str, user: str, password: str) -> str:
    for value in (url, user, password):
        if re.search(r"[\s\x00]", value):
            raise SympaError("refusing a data source value with spaces or line breaks")
    return (
        "include_remote_file\n"
        f"name {SOURCE_NAME}\n"
        f"url {url}\n"
        f"user {user}\n"
        f"passwd {password}\n"
        f"timeout {FEED_TIMEOUT}\n"
    )


def write_source(host: Host, name: str, robot: str, paragraph: str | None) -> str:
    """Put Ronron's data source in the list's config (or take it out, for ``None``), leaving
    every other paragraph as it is. Sympa reloads a config whose file changed."""
    path = f"{list_dir(host, name, robot)}/config"
    text = host.read_file(path).decode("utf-8")
    kept = []
    for block in re.split(r"\n[ \t]*\n", text.strip("\n")):
        lines = [line.strip() for line in block.splitlines()]
        if (
            lines
            and lines[0] == "include_remote_file"
            and paragraph_values(lines).get("name") == SOURCE_NAME
        ):
            continue
        kept.append(block.strip("\n"))
    if paragraph:
        kept.append(paragraph.strip("\n"))
    user = host.layout.sympa_user
    host.write_file(path, "\n\n".join(kept) + "\n", CONFIG_MODE, user, user)
    return "roster source written" if paragraph else "roster source removed"


# --- lists -------------------------------------------------------------------------------------


def creation_xml(name: str, spec: dict[str, Any]) -> str:
    root = ET.Element("list")
    ET.SubElement(root, "listname").text = name
    ET.SubElement(root, "type").text = spec["type"]
    ET.SubElement(root, "subject").text = spec["subject"]
    if spec.get("description"):
        ET.SubElement(root, "description").text = spec["description"]
    ET.SubElement(root, "status").text = "open"
    ET.SubElement(root, "topics").text = "other"
    for address in spec["owners"]:
        owner = ET.SubElement(root, "owner", {"multiple": "1"})
        ET.SubElement(owner, "email").text = address
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def create_list(host: Host, name: str, robot: str, spec: dict[str, Any]) -> str:
    address = check_list(name, robot)
    # Sympa reads the request from a file (a pipe reads as empty), as its own user.
    user = host.layout.sympa_user
    requests = check_path(f"{host.layout.sympa_staging}/requests")
    host.run(["install", "-d", "-m", "0700", "-o", user, "-g", user, requests])
    request = f"{requests}/create-{address}.xml"
    host.write_file(request, creation_xml(name, spec), 0o600, user, user)
    try:
        result = run_sympa(host, "create", f"--input_file={request}", robot)
    finally:
        host.run(["rm", "-f", request], check=False)
    said = " ".join(reports(result))
    if result.returncode != 0 or "already exists" in said:
        raise _failed(f"creating {address}", result)
    return f"list {address} created"


def close_list(host: Host, name: str, robot: str, *, purge: bool = False) -> str:
    address = check_list(name, robot)
    args = ["close", "--mode=purge", address] if purge else ["close", address]
    result = run_sympa(host, *args)
    said = " ".join(reports(result))
    if result.returncode != 0 and "already closed" not in said:
        raise _failed(f"closing {address}", result)
    return f"{address} purged" if purge else f"{address} closed"


def open_list(host: Host, name: str, robot: str) -> str:
    address = check_list(name, robot)
    result = run_sympa(host, "open", address)
    said = " ".join(reports(result))
    if result.returncode != 0 and "is not closed" not in said:
        raise _failed(f"reopening {address}", result)
    return f"{address} reopened"


def dump_members(host: Host, name: str, robot: str) -> None:
    """Write the subscribers to ``member.dump`` in the list directory (an open list only: a
    closed list's dump was written when it closed)."""
    address = check_list(name, robot)
    result = run_sympa(host, "dump", address)
    if result.returncode != 0:
        raise _failed(f"saving the subscribers of {address}", result)


_INCLUDED = re.compile(r"Inclusion (succeeded|partially failed|entirely failed) \((.*?)\)")


def include(host: Host, name: str, robot: str) -> str:
    """``sympa include``: Sympa fetches the roster and applies the difference itself."""
    address = check_list(name, robot)
    result = run_sympa(host, "include", address)
    said = " ".join(reports(result))
    match = _INCLUDED.search(said)
    if result.returncode != 0 or match is None or match[1] != "succeeded":
        raise _failed(f"synchronising {address} with its roster", result)
    return f"{address}: {match[2]}"


def subscriber_count(host: Host, name: str, robot: str) -> int | None:
    """The list's subscribers, read in Sympa's SQLite database through its primary key (a plan
    observes every list: a count of all of them each time would read every subscriber row);
    None when the layout gives no database or it cannot be read. A closed list has none
    there: its subscribers wait in its ``member.dump``."""
    check_list(name, robot)
    database = host.layout.sympa_database
    if not database:
        return None
    # Both names passed check_list: lower-case letters, digits, dots, hyphens, underscores.
    query = (
        "SELECT COUNT(*) FROM subscriber_table "  # noqa: S608
        f"WHERE robot_subscriber = '{robot}' AND list_subscriber = '{name}'"
    )
    result = host.run(["sqlite3", "-readonly", check_path(database), query], check=False)
    text = result.stdout.strip()
    return int(text) if result.ok and text.isdigit() else None


def messages_per_day(host: Host, name: str, robot: str, *, today: int, days: int = 30) -> float:
    """The mean number of messages a day the list distributed over the last ``days`` days,
    from Sympa's ``msg_count`` file (``DAY<TAB>COUNT``, DAY counted in days since 1970)."""
    path = f"{list_dir(host, name, robot)}/msg_count"
    if not host.exists(path):
        return 0.0
    total = 0
    for line in host.read_file(path).decode("ascii", "replace").splitlines():
        day, _sep, count = line.partition("\t")
        if day.strip().isdigit() and count.strip().isdigit() and today - days < int(day) <= today:
            total += int(count)
    return round(total / days, 2)
