"""Archives of a site, exported before anything is removed (design rule 4).

The host builds a tar.gz of the site's root (and of a database dump the caller made) in a
staging directory; Ronron copies it into its data directory,
``DATA_DIR/archives/<member number>/<kind>-<slug>-<UTC timestamp>.tar.gz``, reads it back
with ``tarfile`` (every member readable, the expected top-level entries there, sizes equal to
the listing made on the host), and stores its SHA-256 next to it. Archives are kept for
``archive_retention_days``; ``expired_archives`` lists those past it (a later purge deletes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from ronron.drivers.web.nginx import check_path, check_slug
from ronron.drivers.web.site import Site
from ronron.fleet.hosts import HostError, LocalHost

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host

STAGING = ".ronron-exports"
_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")
_STAMP = "%Y%m%dT%H%M%SZ"
_ARCHIVE_NAME = re.compile(
    r"^(?P<kind>[a-z0-9]+)-(?P<slug>[a-z0-9-]+)-(?P<stamp>\d{8}T\d{6}Z)\.tar\.gz$"
)
_CHUNK = 1 << 20


class ArchiveError(HostError):
    """An archive could not be made, or does not read back as expected."""


def archives_dir() -> Path:
    return Path(settings.DATA_DIR) / "archives"


def _part(value: str, what: str) -> str:
    if not _NAME_PART.fullmatch(value or ""):
        raise ArchiveError(f"refusing an unsafe {what} in an archive name: {value!r}")
    return value


@dataclass(frozen=True)
class Entry:
    kind: str  # f (file), d (directory), l (link)…
    size: int


def _listing(host: Host, path: str, top: str) -> dict[str, Entry]:
    """Every entry under ``path`` as the archive will name it (``top/relative``)."""
    result = host.run(["find", check_path(path), "-printf", "%y %s %P\\0"])
    entries: dict[str, Entry] = {}
    for record in result.stdout.split("\0"):
        if not record:
            continue
        kind, size, rel = record.split(" ", 2)
        entries[f"{top}/{rel}" if rel else top] = Entry(kind, int(size))
    return entries


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(
    path: Path,
    *,
    expected_top: set[str] | None = None,
    listing: dict[str, Entry] | None = None,
    sha256: str | None = None,
) -> int:
    """Read the whole archive back; raise ArchiveError unless it is sound. Returns the number
    of entries."""
    if sha256 is not None and sha256_of(path) != sha256:
        raise ArchiveError(f"{path.name}: its SHA-256 does not match the one recorded")
    names: dict[str, tarfile.TarInfo] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                name = member.name.removeprefix("./").rstrip("/")
                names[name] = member
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is None:
                        raise ArchiveError(f"{path.name}: {name} cannot be read")
                    read = 0
                    while chunk := handle.read(_CHUNK):
                        read += len(chunk)
                    if read != member.size:
                        raise ArchiveError(f"{path.name}: {name} is truncated")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"{path.name} does not read back: {exc}") from exc
    top = {name.split("/", 1)[0] for name in names}
    missing_top = (expected_top or set()) - top
    if missing_top:
        raise ArchiveError(f"{path.name}: missing {', '.join(sorted(missing_top))}")
    for name, entry in (listing or {}).items():
        found = names.get(name)
        if found is None:
            raise ArchiveError(f"{path.name}: {name} is missing")
        if entry.kind == "f" and (not found.isfile() or found.size != entry.size):
            raise ArchiveError(f"{path.name}: {name} has not the size it has on the server")
    return len(names)


def _copy_in(host: Host, staged: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(host, LocalHost):
                with open(staged, "rb") as source:
                    shutil.copyfileobj(source, out, _CHUNK)
            else:
                out.write(host.read_file(staged))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export_site(
    host: Host,
    site: Site,
    *,
    member_number: str,
    kind: str,
    dump: str | None = None,
    now: datetime | None = None,
    directory: Path | None = None,
    name: str | None = None,
) -> Path:
    """Archive the site's root (and ``dump``, a file on the host, if given) into the data
    directory (or ``directory``), verified; returns its path. Nothing on the site changes."""
    layout = host.layout
    slug = check_slug(site.slug)
    root = site.root(layout)
    if not host.exists(root):
        raise ArchiveError(f"{root} does not exist on {host.name}: nothing to export")
    member_dir = directory or archives_dir() / _part(member_number, "member number")
    target = member_dir / (name or archive_name(kind, slug, now))
    sources = [root] + ([dump] if dump else [])
    return export_paths(host, sources, staging=_site_staging(host), target=target)


def _site_staging(host: Host) -> str:
    return f"{check_path(host.layout.sites_root)}/{STAGING}"


def export_paths(host: Host, sources: list[str], *, staging: str, target: Path) -> Path:
    """Archive files and directories of the host (each stored under its own name at the top of
    the archive) into ``target`` in Ronron's data directory, verified against a listing made on
    the host; returns ``target``. Nothing on the host changes but the staging directory."""
    staged = f"{check_path(staging)}/{target.name}"
    host.run(["mkdir", "-p", "-m", "0700", staging])
    argv = ["tar", "-czf", staged]
    expected: set[str] = set()
    before: dict[str, Entry] = {}
    for source in sources:
        parent, top = os.path.split(check_path(source).rstrip("/"))
        argv += ["-C", parent or "/", top]
        expected.add(top)
        before.update(_listing(host, source, top))
    result = host.run(argv, check=False)
    # 1: a file changed while it was read (a log being written); the check below decides.
    if result.returncode not in (0, 1):
        host.run(["rm", "-f", staged], check=False)
        raise ArchiveError(f"tar failed on {host.name}: {result.output[-2000:]}")
    after: dict[str, Entry] = {}
    for source in sources:
        after.update(_listing(host, source, os.path.basename(source.rstrip("/"))))
    # What changed during the export (logs) must be there; what did not must match exactly.
    stable = {k: v for k, v in before.items() if after.get(k) == v}
    listing = stable | {k: Entry("?", 0) for k in before.keys() - stable.keys() if k in after}
    try:
        _copy_in(host, staged, target)
    finally:
        host.run(["rm", "-f", staged], check=False)
    try:
        verify(target, expected_top=expected, listing=listing)
    except ArchiveError:
        target.unlink(missing_ok=True)
        raise
    digest = sha256_of(target)
    checksum = target.with_name(target.name + ".sha256")
    checksum.write_text(f"{digest}  {target.name}\n")
    return target


def archive_name(kind: str, slug: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)
    return f"{_part(kind, 'kind')}-{check_slug(slug)}-{stamp}.tar.gz"


def export_once(
    key: str,
    host: Host,
    site: Site,
    *,
    member_number: str,
    kind: str,
    dump: str | None = None,
) -> tuple[Path, bool]:
    """The verified export of a site recorded for ``key``, made now if there is none."""

    def sources() -> list[str]:
        root = site.root(host.layout)
        if not host.exists(root):
            raise ArchiveError(f"{root} does not exist on {host.name}: nothing to export")
        return [root] + ([dump] if dump else [])

    return export_paths_once(
        key,
        host,
        sources,
        staging=_site_staging(host),
        member_number=member_number,
        kind=kind,
        slug=site.slug,
    )


def export_paths_once(
    key: str,
    host: Host,
    sources: Callable[[], list[str]],
    *,
    staging: str,
    member_number: str,
    kind: str,
    slug: str,
) -> tuple[Path, bool]:
    """The verified export recorded for ``key``, made now if there is none: (path, made now).

    Crash-safe: the archive's name is recorded *before* it is made, so that a rerun after a
    kill half-way discards that unfinished archive (and its staged copy on the server) instead
    of leaving it beside a second one. ``sources`` is called only when an export is made.
    """
    existing = verified_export(key)
    if existing is not None:
        return existing, False
    _discard_pending(key, host)
    target = archives_dir() / _part(member_number, "member number") / archive_name(kind, slug)
    staged = f"{check_path(staging)}/{target.name}"
    _write_record(key, {"pending": str(target), "staged": staged})
    path = export_paths(host, sources(), staging=staging, target=target)
    record_export(key, path)
    return path, True


def _discard_pending(key: str, host: Host) -> None:
    try:
        record = json.loads(_record_path(key).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(record, dict) or "pending" not in record:
        return
    unfinished = Path(str(record["pending"]))
    if unfinished.parent.is_relative_to(archives_dir()) and _ARCHIVE_NAME.match(unfinished.name):
        unfinished.unlink(missing_ok=True)
        unfinished.with_name(unfinished.name + ".sha256").unlink(missing_ok=True)
    staged = str(record.get("staged", ""))
    if staged and os.path.basename(staged) == unfinished.name:
        host.run(["rm", "-f", check_path(staged)], check=False)


def recorded_sha256(path: Path) -> str:
    checksum = path.with_name(path.name + ".sha256")
    try:
        return checksum.read_text().split()[0]
    except (OSError, IndexError) as exc:
        raise ArchiveError(f"{path.name}: no SHA-256 recorded next to it") from exc


def verify_recorded(path: Path | str) -> int:
    """An archive in the data directory, checked against its SHA-256 and read back."""
    archive = Path(path)
    if not archive.is_file():
        raise ArchiveError(f"the archive {archive} is missing")
    return verify(archive, sha256=recorded_sha256(archive))


# --- which archive belongs to which removal ---------------------------------------------------


def _record_path(key: str) -> Path:
    return archives_dir() / ".exports" / f"{_part(key, 'export key')}.json"


def record_export(key: str, archive: Path) -> None:
    """Remember (atomically) that ``key`` (e.g. ``service-42``) was exported to ``archive``."""
    _write_record(key, {"archive": str(archive), "sha256": recorded_sha256(archive)})


def _write_record(key: str, record: dict[str, str]) -> None:
    path = _record_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(record)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def recorded_export(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_record_path(key).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("archive") else None


def verified_export(key: str) -> Path | None:
    """The archive recorded for ``key`` if it still reads back and matches its SHA-256."""
    record = recorded_export(key)
    if record is None:
        return None
    try:
        verify(Path(record["archive"]), sha256=str(record.get("sha256")))
    except ArchiveError:
        return None
    return Path(record["archive"])


# --- retention ----------------------------------------------------------------------------------


def archive_date(path: Path) -> datetime | None:
    match = _ARCHIVE_NAME.fullmatch(path.name)
    if not match:
        return None
    return datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)


def expired_archives(now: datetime) -> list[Path]:
    """Archives older than the configured retention (listed, never deleted here)."""
    limit = now - timedelta(days=settings.RONRON.archive_retention_days)
    base = archives_dir()
    if not base.is_dir():
        return []
    expired = []
    for path in sorted(base.glob("*/*.tar.gz")):
        made = archive_date(path)
        if made is not None and made < limit:
            expired.append(path)
    return expired
