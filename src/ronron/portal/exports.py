"""Everything Ronron holds about one member, in open formats, in one zip.

``build_member_export(member_id)`` writes ``DATA_DIR/exports/<number>/<number>-<UTC>.zip``:
the member file as JSON (``member.json``) and as CSV tables (``csv/*.csv``), and the export
of each managed service made by its driver (``services/``). A service whose export fails is
named in ``README.txt`` with the reason; the rest is still delivered. The zip is written under
a temporary name and renamed in one step, then read back whole (every entry's CRC, the JSON
parsed) and its SHA-256 written next to it (``<name>.sha256``) before anyone is offered it.

The portal runs it as a job (:func:`start_member_export`); offboarding calls
:func:`build_member_export` directly — it needs no request.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from ronron.core import audit
from ronron.jobs.models import Job
from ronron.jobs.progress import ProgressCallback, enqueue, no_progress, running
from ronron.members.models import Member
from ronron.portal.models import HelpRequest, ServiceRequest
from ronron.services.models import Service

log = logging.getLogger(__name__)

JOB_KIND = "portal.member_export"
FORMAT_VERSION = 1
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}-\d{8}T\d{6}Z\.zip$")
_STAMP = "%Y%m%dT%H%M%SZ"
_CHUNK = 1 << 20
TABLES = (
    "member",
    "contacts",
    "memberships",
    "services",
    "service_requests",
    "help_requests",
    "help_messages",
)


class ExportError(Exception):
    """The export could not be made, or does not read back as written."""


@dataclass
class MemberExport:
    path: Path
    sha256: str
    # (service as people name it, why its export is missing)
    failures: list[tuple[str, str]] = field(default_factory=list)
    services: int = 0


# --- where exports live -----------------------------------------------------------------------


def exports_dir() -> Path:
    return Path(settings.DATA_DIR) / "exports"


def member_dir(number: str) -> Path:
    if not _NUMBER.fullmatch(number or ""):
        raise ExportError(f"refusing an unsafe member number in a path: {number!r}")
    return exports_dir() / number


def export_path(number: str, name: str) -> Path | None:
    """The export file ``name`` of member ``number`` if the name is one of ours and it exists."""
    if not _FILE.fullmatch(name or "") or not name.startswith(f"{number}-"):
        return None
    path = member_dir(number) / name
    return path if path.is_file() else None


# --- the member's rows ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(queryset: QuerySet[Any], names: Iterable[str]) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in queryset.values(*names)]


MEMBER_COLUMNS = (
    "number", "kind", "name", "legal_form", "rna", "siren", "address", "postal_code", "city",
    "country", "departement", "region", "status", "applied_on", "approved_on", "joined_on",
    "left_on",
)  # fmt: skip
CONTACT_COLUMNS = ("id", "name", "email", "phone", "roles", "created_at", "updated_at")
SERVICE_COLUMNS = (
    "id", "kind", "family", "managed", "name", "domain", "spec", "wanted_state",
    "observed_state", "created_at", "removed_at",
)  # fmt: skip
REQUEST_COLUMNS = (
    "id", "offer__kind", "offer__title", "domain", "details", "message", "status",
    "created_at", "decided_at", "reason", "service_id",
)  # fmt: skip
HELP_COLUMNS = ("id", "subject", "status", "service_id", "created_at", "updated_at")
MESSAGE_COLUMNS = ("id", "request_id", "author_name", "body", "created_at")


def member_tables(member: Member) -> dict[str, list[dict[str, Any]]]:
    """The member's own rows, table by table, as JSON-ready values. The board's internal
    notes are not part of it; services' secrets neither (they were handed over once)."""
    today = date.today()
    record = _rows(Member.objects.filter(pk=member.pk), MEMBER_COLUMNS)
    record[0]["themes"] = sorted(t.name for t in member.themes.all())
    memberships = [
        {
            "year": membership.year,
            "amount": _plain(membership.amount),
            "called_on": _plain(membership.called_on),
            "paid_on": _plain(membership.paid_on),
            "payment_method": membership.payment_method,
            "status": membership.status_on(today),
        }
        for membership in member.memberships.order_by("year")
    ]
    help_requests = HelpRequest.objects.filter(member=member).order_by("pk")
    return {
        "member": record,
        "contacts": _rows(member.contacts.order_by("pk"), CONTACT_COLUMNS),
        "memberships": memberships,
        "services": _rows(Service.objects.filter(member=member).order_by("pk"), SERVICE_COLUMNS),
        "service_requests": _rows(
            ServiceRequest.objects.filter(member=member).order_by("pk"), REQUEST_COLUMNS
        ),
        "help_requests": _rows(help_requests, HELP_COLUMNS),
        # Messages of this member's requests only: the lookup goes through the request.
        "help_messages": _rows(_messages_of(help_requests), MESSAGE_COLUMNS),
    }


def _messages_of(requests: QuerySet[HelpRequest]) -> QuerySet[Any]:
    from ronron.portal.models import HelpMessage

    return HelpMessage.objects.filter(request__in=requests).order_by("request_id", "pk")


def _csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    key: json.dumps(value, ensure_ascii=False)
                    if isinstance(value, dict | list)
                    else ("" if value is None else value)
                    for key, value in row.items()
                }
            )
    return out.getvalue()


# --- services ---------------------------------------------------------------------------------


def _service_label(service: Service) -> str:
    kind = str(service.get_kind_display() or service.get_family_display())
    return f"{kind} {service.domain or service.name or service.pk}".strip()


def _service_archive(service: Service, directory: Path) -> Path:
    """The service's archive: a fresh export by its driver, or (removed services) the archive
    kept from its removal, if it still reads back."""
    from ronron.drivers.base import driver_for
    from ronron.drivers.web import archive

    if service.removed_at is not None:
        if not service.archive_path:
            raise ExportError(_("it was removed without an archive to keep"))
        try:
            archive.verify_recorded(service.archive_path)
        except archive.ArchiveError as exc:
            reason = _("its archive does not read back: %(reason)s") % {"reason": exc}
            raise ExportError(reason) from exc
        return Path(service.archive_path)
    if service.server is None:
        raise ExportError(_("it is on no server"))
    try:
        driver = driver_for(service.kind)
    except LookupError:
        raise ExportError(_("Ronron cannot export services of this kind yet")) from None
    host = service.server.host()
    try:
        return driver.export(service, host, directory)
    finally:
        close = getattr(host, "close", None)
        if callable(close):
            close()


def _readme(member: Member, when: datetime, failures: list[tuple[str, str]], archives: int) -> str:
    lines = [
        _("Data of %(name)s (member no. %(number)s) at %(hoster)s, exported on %(when)s (UTC).")
        % {
            "name": member.name,
            "number": member.number,
            "hoster": settings.RONRON.hoster_name,
            "when": when.strftime("%Y-%m-%d %H:%M"),
        },
        "",
        _("member.json: all of the member file in one JSON document."),
        _(
            "csv/: the same, one table per file (UTF-8, comma-separated, first line: the "
            "column names): %(tables)s."
        )
        % {"tables": ", ".join(f"{name}.csv" for name in TABLES)},
        _(
            "services/: the export of each service (tar.gz: the files, and a dump of the "
            "database for the sites that have one), with its SHA-256 checksum: %(count)s."
        )
        % {"count": archives},
    ]
    if failures:
        lines += ["", _("These services could not be exported; ask the admins for them:")]
        lines += [f"- {label}: {reason}" for label, reason in failures]
    return "\n".join(lines) + "\n"


# --- writing and reading back -----------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def recorded_sha256(path: Path) -> str:
    try:
        return _checksum_path(path).read_text().split()[0]
    except (OSError, IndexError) as exc:
        raise ExportError(f"{path.name}: no SHA-256 recorded next to it") from exc


def _read_back(path: Path, expected: set[str], number: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise ExportError(f"{path.name}: {broken} does not read back")
            missing = expected - set(archive.namelist())
            if missing:
                raise ExportError(f"{path.name}: missing {', '.join(sorted(missing))}")
            document = json.loads(archive.read("member.json"))
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ExportError(f"{path.name} does not read back: {exc}") from exc
    if document.get("member", [{}])[0].get("number") != number:
        raise ExportError(f"{path.name}: member.json is not the file of {number}")


def verify_export(path: Path) -> str:
    """Read a finished export back against its recorded SHA-256; returns it, or raises."""
    recorded = recorded_sha256(path)
    if sha256_of(path) != recorded:
        raise ExportError(f"{path.name}: its SHA-256 does not match the one recorded")
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                raise ExportError(f"{path.name} does not read back")
    except (OSError, zipfile.BadZipFile) as exc:
        raise ExportError(f"{path.name} does not read back: {exc}") from exc
    return recorded


def _write_text_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_member_export(
    member_id: int,
    *,
    include_services: bool = True,
    actor_id: int | None = None,
    language: str | None = None,
    progress: ProgressCallback = no_progress,
) -> MemberExport:
    """Write, read back and record the export of member ``member_id``; see the module."""
    member = Member.objects.get(pk=member_id)
    directory = member_dir(member.number)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    target = directory / f"{member.number}-{now.strftime(_STAMP)}.zip"
    services = (
        list(Service.objects.filter(member=member, managed=True).select_related("server"))
        if include_services
        else []
    )
    total = len(services) + 2
    work = Path(tempfile.mkdtemp(dir=directory, prefix=".work-"))
    failures: list[tuple[str, str]] = []
    archives: list[tuple[Service, Path]] = []
    with translation.override(language or settings.LANGUAGE_CODE):
        try:
            progress(0, total, _("Gathering the member file"))
            tables = member_tables(member)
            for done, service in enumerate(services, start=1):
                progress(
                    done, total, _("Exporting %(service)s") % {"service": _service_label(service)}
                )
                try:
                    archives.append((service, _service_archive(service, work / str(service.pk))))
                except Exception as exc:
                    log.warning("export of service %s failed", service.pk, exc_info=True)
                    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
                    failures.append((_service_label(service), reason))
            progress(total - 1, total, _("Writing the archive"))
            expected = _write_zip(target, member, now, tables, archives, failures)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    try:
        _read_back(target, expected, member.number)
    except ExportError:
        target.unlink(missing_ok=True)
        raise
    digest = sha256_of(target)
    _write_text_atomically(_checksum_path(target), f"{digest}  {target.name}\n")
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    with transaction.atomic():
        audit.record(
            "portal.member_exported",
            actor=actor,
            obj=member,
            member_id=member.pk,
            after={
                "file": target.name,
                "sha256": digest,
                "services": len(archives),
                "failed": [label for label, _reason in failures],
            },
        )
    progress(total, total, _("Done"))
    return MemberExport(path=target, sha256=digest, failures=failures, services=len(archives))


def _write_zip(
    target: Path,
    member: Member,
    now: datetime,
    tables: dict[str, list[dict[str, Any]]],
    archives: list[tuple[Service, Path]],
    failures: list[tuple[str, str]],
) -> set[str]:
    """Write the zip under a temporary name, then rename it; returns the names it holds."""
    document = {
        "format": FORMAT_VERSION,
        "hoster": settings.RONRON.hoster_name,
        "exported_at": now.isoformat(),
        **tables,
    }
    names: set[str] = set()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:

                def put(name: str, text: str) -> None:
                    archive.writestr(name, text.encode("utf-8"))
                    names.add(name)

                put("README.txt", _readme(member, now, failures, len(archives)))
                put("member.json", json.dumps(document, ensure_ascii=False, indent=2) + "\n")
                for table in TABLES:
                    put(f"csv/{table}.csv", _csv_text(tables[table]))
                for service, path in archives:
                    # Already compressed: stored as is.
                    name = f"services/{service.pk}-{path.name}"
                    archive.write(path, name, compress_type=zipfile.ZIP_STORED)
                    names.add(name)
                    checksum = path.with_name(path.name + ".sha256")
                    if checksum.is_file():
                        archive.write(checksum, name + ".sha256")
                        names.add(name + ".sha256")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return names


def build_member_export(
    member_id: int,
    *,
    include_services: bool = True,
    actor_id: int | None = None,
    language: str | None = None,
) -> Path:
    """The verified export of member ``member_id`` (see the module); its path."""
    return make_member_export(
        member_id, include_services=include_services, actor_id=actor_id, language=language
    ).path


# --- as a job ---------------------------------------------------------------------------------


def export_jobs(member: Member) -> QuerySet[Job]:
    return Job.objects.filter(kind=JOB_KIND, params__member_id=member.pk)


def start_member_export(member: Member, *, actor: Any, language: str | None = None) -> Job:
    """Queue the export of all of ``member``'s data; an export already waiting or running is
    returned instead of starting a second one."""
    unfinished = export_jobs(member).filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    existing = unfinished.first()
    if existing is not None:
        return existing
    return enqueue(
        member_export_task,
        kind=JOB_KIND,
        label=_("Export of all the data of %(number)s") % {"number": member.number},
        actor=actor,
        params={"member_id": member.pk, "number": member.number, "language": language or ""},
    )


def export_file(job: Job, member: Member) -> Path | None:
    """The file a finished export job of ``member`` made, if it is still there."""
    if job.kind != JOB_KIND or (job.params or {}).get("member_id") != member.pk:
        return None
    if job.status != Job.Status.SUCCEEDED or not isinstance(job.result, dict):
        return None
    return export_path(member.number, str(job.result.get("file") or ""))


@task()
def member_export_task(job_id: int) -> None:
    with running(job_id) as (job, progress):
        params = job.params
        made = make_member_export(
            int(params["member_id"]),
            actor_id=job.created_by_id,
            language=params.get("language") or None,
            progress=progress,
        )
        job.result = {
            "download": reverse(
                "portal:data_download", kwargs={"number": params["number"], "job_id": job.pk}
            ),
            "file": made.path.name,
            "size": made.path.stat().st_size,
            "sha256": made.sha256,
            "services": made.services,
            "failed_services": [
                {"service": label, "reason": reason} for label, reason in made.failures
            ],
            "finished": timezone.now().isoformat(),
        }
