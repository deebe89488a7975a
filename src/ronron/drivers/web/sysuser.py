"""A system user per site, ``site-<slug>`` (and its group), and the site's directories.

A site's files are readable only by its user and the web server: the site root belongs to
root and the site's group with mode 0750, and the web server's user (``layout.nginx_user``)
is a member of that group, so no other site's user can even enter the directory. Directories
where the member (or PHP) writes belong to the site's user, setgid so that new files keep the
site's group and stay readable by the web server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ronron.drivers.web.nginx import check_path, check_slug
from ronron.drivers.web.site import Site

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.layout import Layout

PREFIX = "site-"
FILE_MODE = 0o640
DIR_MODE = 0o750
# The member's own tree: the site's user writes, the web server reads.
MEMBER_DIR_MODE = 0o2750
# Written by the site's processes (PHP uploads, temporary files), still shared with the group.
UPLOAD_DIR_MODE = 0o2770


def user_name(slug: str) -> str:
    # Linux user names: at most 32 characters; slugs have at most 24.
    return PREFIX + check_slug(slug)


@dataclass(frozen=True)
class UserState:
    exists: bool
    web_in_group: bool


def _getent(host: Host, database: str, name: str) -> str | None:
    result = host.run(["getent", database, name], check=False)
    # 2: no such entry.
    return result.stdout.strip() if result.ok else None


def observe_user(host: Host, slug: str) -> UserState:
    name = user_name(slug)
    if _getent(host, "passwd", name) is None:
        return UserState(False, False)
    group = _getent(host, "group", name) or ""
    members = group.split(":")[3].split(",") if group.count(":") >= 3 else []
    return UserState(True, host.layout.nginx_user in members)


def ensure_user(host: Host, site: Site) -> str:
    """Create the user and its group if missing, and let the web server read through it."""
    name = user_name(site.slug)
    done = []
    state = observe_user(host, site.slug)
    if not state.exists:
        if _getent(host, "group", name) is not None:
            # Left behind by a crash between groupadd and useradd (or by an old removal).
            host.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--home-dir",
                    check_path(site.root(host.layout)),
                    "--gid",
                    name,
                    name,
                ]
            )
        else:
            host.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--home-dir",
                    check_path(site.root(host.layout)),
                    "--user-group",
                    name,
                ]
            )
        done.append(f"created system user {name}")
    if not state.web_in_group:
        host.run(["usermod", "-a", "-G", name, host.layout.nginx_user])
        done.append(f"added {host.layout.nginx_user} to the group {name}")
    return "; ".join(done) or f"{name} already exists"


def remove_user(host: Host, slug: str) -> str:
    name = user_name(slug)
    done = []
    if _getent(host, "group", name) is not None:
        # Not a member any more: userdel then removes the group with the user.
        host.run(["gpasswd", "-d", host.layout.nginx_user, name], check=False)
    if _getent(host, "passwd", name) is not None:
        host.run(["userdel", name])
        done.append(f"removed system user {name}")
    if _getent(host, "group", name) is not None:
        host.run(["groupdel", name])
        done.append(f"removed group {name}")
    return "; ".join(done) or f"{name} is already gone"


def list_site_users(host: Host) -> list[str]:
    """Slugs of every ``site-*`` user on the server (for orphans)."""
    result = host.run(["getent", "passwd"])
    slugs = []
    for line in result.stdout.splitlines():
        name = line.split(":", 1)[0]
        if name.startswith(PREFIX):
            slugs.append(name[len(PREFIX) :])
    return sorted(slugs)


# --- directories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directory:
    path: str
    owner: str
    group: str
    mode: int


def site_directories(site: Site, layout: Layout, *, extra: tuple[str, ...] = ()) -> list[Directory]:
    """The site's tree: root (root:site 0750), htdocs (the member's), log (written by nginx),
    and any ``extra`` sub-directory (uploads, tmp…) writable by the site's processes."""
    user = user_name(site.slug)
    root = check_path(site.root(layout))
    dirs = [
        Directory(root, "root", user, DIR_MODE),
        Directory(f"{root}/htdocs", user, user, MEMBER_DIR_MODE),
        Directory(f"{root}/log", "root", user, DIR_MODE),
    ]
    dirs += [Directory(check_path(f"{root}/{sub}"), user, user, UPLOAD_DIR_MODE) for sub in extra]
    return dirs


def directories_ready(host: Host, dirs: list[Directory]) -> bool:
    result = host.run(["stat", "-c", "%n|%F|%U|%G|%a", *(d.path for d in dirs)], check=False)
    seen = {}
    for line in result.stdout.splitlines():
        parts = line.rsplit("|", 4)
        if len(parts) == 5:
            seen[parts[0]] = parts[1:]
    for d in dirs:
        found = seen.get(d.path)
        if found is None:
            return False
        kind, owner, group, mode = found
        if kind != "directory" or (owner, group) != (d.owner, d.group) or int(mode, 8) != d.mode:
            return False
    return True


def ensure_directories(host: Host, dirs: list[Directory]) -> str:
    for d in dirs:
        host.run(["mkdir", "-p", d.path])
        host.run(["chown", f"{d.owner}:{d.group}", d.path])
        # Five digits: "00750" clears a setgid bit that "750" would keep on a directory.
        host.run(["chmod", f"0{d.mode:04o}", d.path])
    return "ready: " + ", ".join(d.path for d in dirs)


def is_empty_directory(host: Host, path: str) -> bool:
    result = host.run(["find", check_path(path), "-mindepth", "1", "-maxdepth", "1"], check=False)
    return result.ok and not result.stdout.strip()


def list_site_directories(host: Host) -> list[str]:
    """Names of the directories directly under ``sites_root`` (for orphans)."""
    root = check_path(host.layout.sites_root)
    if not host.exists(root):
        return []
    result = host.run(
        ["find", root, "-mindepth", "1", "-maxdepth", "1", "-type", "d", "-printf", "%f\n"]
    )
    return sorted(n for n in result.stdout.splitlines() if n and not n.startswith("."))
