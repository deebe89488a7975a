"""The hoster's CHATONS statistics files (ChatonsInfos): one organisation file, one per service.

The CHATONS collective gathers these ``.properties`` files (UTF-8, one ``key = value`` a line,
the field names of its ChatonsInfos models) from every hoster's ``/.well-known/chatonsinfos/``.
Everything here is computed from Ronron's truth and the ``[organization]`` configuration, so the
files never drift from what the hoster really offers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from babel import Locale
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ronron.services.kinds import FAMILIES, KIND_LABELS
from ronron.services.models import Service

PROTOCOL = "ChatonsInfos-0.5"
GENERATOR = "Ronron"
ORGANIZATION_ID = "organization"
SUFFIX = ".properties"

# A file id is a kind or a family name: also the file's name, so nothing else gets through.
FILE_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

Section = tuple[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class Software:
    name: str
    website: str = ""
    license: str = ""  # an SPDX identifier
    source: str = ""
    # How Ronron installs it, in ChatonsInfos' words: DISTRIBUTION is a Debian package.
    install: str = ""


SOFTWARE: dict[str, Software] = {
    "static": Software(
        "nginx", "https://nginx.org/", "BSD-2-Clause", "https://github.com/nginx/nginx",
        "DISTRIBUTION",
    ),
    "wordpress": Software(
        "WordPress", "https://wordpress.org/", "GPL-2.0-or-later",
        "https://github.com/WordPress/wordpress-develop", "DISTRIBUTION",
    ),
    "spip": Software(
        "SPIP", "https://www.spip.net/", "GPL-3.0", "https://git.spip.net/spip/spip", "SOURCES"
    ),
    "list": Software(
        "Sympa", "https://www.sympa.community/", "GPL-2.0-or-later",
        "https://github.com/sympa-community/sympa", "DISTRIBUTION",
    ),
    "cloud": Software(
        "Nextcloud", "https://nextcloud.com/", "AGPL-3.0-or-later",
        "https://github.com/nextcloud/server", "SOURCES",
    ),
    "galette": Software(
        "Galette", "https://galette.eu/", "GPL-3.0", "https://github.com/galette/galette",
        "SOURCES",
    ),
    "dolibarr": Software(
        "Dolibarr", "https://www.dolibarr.org/", "GPL-3.0-or-later",
        "https://github.com/Dolibarr/dolibarr", "SOURCES",
    ),
}  # fmt: skip


# --- The format ------------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}
# Control characters, and what some readers take for a line break (NEL, LS, PS).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_value(value: str) -> str:
    """A value on one line that reads back as itself (Java properties escapes)."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _UNSAFE.match(char):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    text = "".join(out)
    # A reader drops the blanks after "=": an escaped first blank survives.
    return "\\" + text if text.startswith(" ") else text


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        code = text[i + 1]
        if code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append(_UNESCAPES.get(code, code))
        i += 2
    return "".join(out)


def parse_properties(text: str) -> dict[str, str]:
    """Read a ChatonsInfos file back: comments and blank lines skipped, escapes undone."""
    values: dict[str, str] = {}
    # Only CR and LF end a line (str.splitlines would also split at NEL, LS, PS…).
    for line in re.split(r"\r\n|\r|\n", text):
        stripped = line.lstrip()
        if not stripped or stripped[0] in "#!":
            continue
        key, _sep, value = stripped.partition("=")
        values[key.strip()] = _unescape(value.lstrip(" \t\f"))
    return values


def render(sections: Iterable[Section]) -> str:
    """Sections under ``# [Title]`` headers, as in the CHATONS models; empty values kept."""
    blocks = []
    for title, fields in sections:
        lines = [f"# [{title}]"]
        lines += [f"{key} = {escape_value(value)}" for key, value in fields]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# --- What goes in the files ------------------------------------------------------------------


def _day(value: date | str) -> str:
    """Dates as the CHATONS models write them (08/11/2018)."""
    if isinstance(value, str):
        if not value:
            return ""
        value = date.fromisoformat(value)
    return value.strftime("%d/%m/%Y")


def _country(code: str) -> tuple[str, str]:
    # French names: the collective, and the statistics site that reads these files, are French.
    return code, Locale.parse("fr").territories.get(code, "")


def _file_section(file_class: str, now: datetime) -> Section:
    return "File", [
        ("file.class", file_class),
        ("file.protocol", PROTOCOL),
        ("file.datetime", timezone.localtime(now).strftime("%Y-%m-%dT%H:%M:%S")),
        ("file.generator", GENERATOR),
    ]


def _live_services() -> dict[str, list[Service]]:
    """The services the hoster offers today, by file id: the kind, or the family if unknown."""
    groups: dict[str, list[Service]] = defaultdict(list)
    live = Service.objects.filter(removed_at__isnull=True).exclude(
        wanted_state=Service.Wanted.ABSENT
    )
    # Work groups are groups inside the cloud the hoster offers, not a service of their own.
    for service in live.exclude(kind="cloudgroup").order_by("created_at", "pk"):
        groups[service.kind or service.family].append(service)
    return dict(sorted(groups.items()))


def file_ids() -> list[str]:
    """The service files there are today, in the order of the organisation's ``subs``."""
    return list(_live_services())


def organization_file(base_url: str, *, now: datetime | None = None) -> str:
    """``organization.properties``; ``base_url`` is where the files are served (ends in /)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _organization_file(base_url, file_ids(), now or timezone.now())


def all_files(base_url: str, *, now: datetime | None = None) -> dict[str, str]:
    """Every file's text by id, from one reading of the services: the subs match the files."""
    groups = _live_services()
    moment = now or timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        files = {ORGANIZATION_ID: _organization_file(base_url, list(groups), moment)}
        files.update({key: _service_file(key, group, moment) for key, group in groups.items()})
    return files


def _organization_file(base_url: str, ids: list[str], now: datetime) -> str:
    org = settings.RONRON.organization
    code, country = _country(org.get("country_code", ""))
    return render(
        [
            _file_section("organization", now),
            ("Organization", _organization_fields(org, code, country)),
            ("Subs", [(f"subs.{key}", f"{base_url}{key}{SUFFIX}") for key in ids]),
        ]
    )


def _organization_fields(org: dict[str, str], code: str, country: str) -> list[tuple[str, str]]:
    return [
        ("organization.name", settings.RONRON.hoster_name),
        ("organization.description", org.get("description", "")),
        ("organization.website", org.get("website", "")),
        ("organization.logo", org.get("logo", "")),
        ("organization.status.level", "ACTIVE"),
        ("organization.status.description", ""),
        ("organization.startdate", _day(org.get("start_date", ""))),
        ("organization.enddate", ""),
        ("organization.type", org.get("type", "")),
        ("organization.contact.url", org.get("contact_url", "")),
        ("organization.contact.email", org.get("email", "")),
        ("organization.legal.url", org.get("legal_url", "")),
        ("organization.guide.technical", org.get("guide_technical", "")),
        ("organization.guide.user", org.get("guide_user", "")),
        ("organization.country.name", country),
        ("organization.country.code", code),
        ("organization.memberof.chatons.status.level", "ACTIVE"),
        ("organization.memberof.chatons.startdate", _day(org.get("chatons_start_date", ""))),
    ]


def service_file(key: str, *, now: datetime | None = None) -> str | None:
    """One service file's text, or None when the hoster offers no such service today."""
    services = _live_services().get(key)
    if not services:
        return None
    with translation.override(settings.LANGUAGE_CODE):
        return _service_file(key, services, now or timezone.now())


def _service_file(key: str, services: list[Service], now: datetime) -> str:
    org = settings.RONRON.organization
    software = SOFTWARE.get(key) or Software(str(KIND_LABELS.get(key) or FAMILIES.get(key, key)))
    return render(
        [
            _file_section("service", now),
            ("Service", _service_fields(key, services, software, org)),
            ("Software", _software_fields(software)),
            ("Host", _host_fields(org)),
        ]
    )


def _service_fields(
    key: str, services: list[Service], software: Software, org: dict[str, str]
) -> list[tuple[str, str]]:
    label = str(KIND_LABELS.get(key) or FAMILIES.get(key, key))
    # Only managed services were opened by Ronron: an external one's row dates its recording.
    opened = [timezone.localdate(s.created_at) for s in services if s.managed]
    return [
        ("service.name", label),
        (
            "service.description",
            _("Service offered by %(hoster)s to its members.")
            % {"hoster": settings.RONRON.hoster_name},
        ),
        ("service.website", org.get("website", "")),
        ("service.logo", ""),
        ("service.legal.url", org.get("legal_url", "")),
        ("service.guide.technical", org.get("guide_technical", "")),
        ("service.guide.user", org.get("guide_user", "")),
        ("service.contact.url", org.get("contact_url", "")),
        ("service.contact.email", org.get("email", "")),
        ("service.startdate", _day(min(opened)) if opened else ""),
        ("service.enddate", ""),
        ("service.status.level", "OK"),
        ("service.status.description", ""),
        ("service.registration", "Member"),
        ("service.registration.load", "OPEN"),
        ("service.install.type", software.install),
    ]


def _software_fields(software: Software) -> list[tuple[str, str]]:
    licence_url = f"https://spdx.org/licenses/{software.license}.html" if software.license else ""
    return [
        ("software.name", software.name),
        ("software.website", software.website),
        ("software.license.url", licence_url),
        ("software.license.name", software.license),
        ("software.version", ""),
        ("software.source.url", software.source),
        ("software.modules", ""),
    ]


def _host_fields(org: dict[str, str]) -> list[tuple[str, str]]:
    code, country = _country(org.get("country_code", ""))
    return [
        ("host.name", org.get("host_name", "")),
        ("host.description", ""),
        ("host.server.distribution", "Debian"),
        ("host.server.type", org.get("host_server_type", "")),
        ("host.provider.type", org.get("host_provider_type", "")),
        ("host.provider.hypervisor", ""),
        ("host.country.name", country),
        ("host.country.code", code),
    ]
