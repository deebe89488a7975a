"""Rosters: named, computed sets of addresses that lists and cloud groups follow.

A *source* says where a roster's addresses come from. Each is a function registered under a
name; it receives the roster and returns its entries. Ronron's own member file gives the first
ones; a member association's Galette or Dolibarr will register theirs the same way (the roster
then keeps what it needs to reach them).

Lists do not receive the addresses from Ronron: Sympa fetches them (``include_remote_file`` on
``feed_text``) and computes the difference itself, so a list keeps its members when Ronron cannot
be reached. After a change, Ronron only asks the lists concerned to fetch again (``tasks.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ronron.core.validators import validate_email
from ronron.members.models import Contact, Member
from ronron.services.models import Roster, Service

# Members whose contacts are on the member file's rosters: admitted and not gone (a member who
# gave notice stays until the date it leaves).
ACTIVE = (Member.Status.MEMBER, Member.Status.LEAVING)
BOARD_ROLES = (Contact.Role.PRESIDENT, Contact.Role.TREASURER, Contact.Role.SECRETARY)


# Sympa reads a list's roster with its own credential: user service-<pk>, and this secret of
# the service (services/credentials.py) as the password.
ROSTER_FEED = "roster_feed"


def feed_user(service: Service) -> str:
    return f"service-{service.pk}"


@dataclass(frozen=True, order=True)
class Entry:
    email: str  # lower-cased
    name: str = ""


@dataclass(frozen=True)
class Source:
    name: str
    label: object
    compute: Callable[[Roster], list[Entry]]
    needs_member: bool = False


SOURCES: dict[str, Source] = {}


def register_source(
    name: str, label: object, *, needs_member: bool = False
) -> Callable[[Callable[[Roster], list[Entry]]], Callable[[Roster], list[Entry]]]:
    def decorator(compute: Callable[[Roster], list[Entry]]) -> Callable[[Roster], list[Entry]]:
        SOURCES[name] = Source(name, label, compute, needs_member)
        return compute

    return decorator


def _entries(rows: Iterable[tuple[str, str]]) -> list[Entry]:
    """One entry per address (case-insensitive), the first name seen kept, sorted."""
    seen: dict[str, Entry] = {}
    for email, name in rows:
        key = email.strip().lower()
        if key and key not in seen:
            seen[key] = Entry(key, " ".join(name.split()))
    return sorted(seen.values())


def _contacts(condition: Q) -> list[Entry]:
    rows = Contact.objects.filter(condition).values_list("email", "name")
    return _entries(rows)


def _has_role(roles: Iterable[str]) -> Q:
    condition = Q(pk__in=[])
    for role in roles:
        # Roles are stored sorted and comma-separated; no role name contains another.
        condition |= Q(roles__contains=role)
    return condition


@register_source("members", _("Every contact of every active member"))
def _all_contacts(roster: Roster) -> list[Entry]:
    return _contacts(Q(member__status__in=ACTIVE))


@register_source("board", _("Presidents, treasurers and secretaries of active members"))
def _board(roster: Roster) -> list[Entry]:
    return _contacts(Q(member__status__in=ACTIVE) & _has_role(BOARD_ROLES))


@register_source("tech", _("Technical contacts of active members"))
def _tech(roster: Roster) -> list[Entry]:
    return _contacts(Q(member__status__in=ACTIVE) & _has_role([Contact.Role.TECH]))


@register_source("member", _("Every contact of one member"), needs_member=True)
def _one_member(roster: Roster) -> list[Entry]:
    if roster.member_id is None:
        return []
    return _contacts(Q(member_id=roster.member_id, member__status__in=ACTIVE))


@register_source("upload", _("Addresses from an uploaded file"))
def _uploaded(roster: Roster) -> list[Entry]:
    rows = roster.uploaded if isinstance(roster.uploaded, list) else []
    return _entries(
        (str(row.get("email", "")), str(row.get("name", "")))
        for row in rows
        if isinstance(row, dict)
    )


def entries(roster: Roster) -> list[Entry]:
    source = SOURCES.get(roster.source)
    if source is None:
        raise LookupError(f"unknown roster source {roster.source!r}")
    return source.compute(roster)


def entries_of(many: Iterable[Roster]) -> dict[int, list[Entry]]:
    """The entries of several rosters; the rosters of one member's contacts (one per member
    list, hundreds of them) are read in one query."""
    many = list(many)
    by_member = [r for r in many if r.source == "member" and r.member_id is not None]
    found: dict[int, list[Entry]] = {}
    if by_member:
        rows: dict[int, list[tuple[str, str]]] = {r.member_id: [] for r in by_member}  # type: ignore[misc]
        contacts = Contact.objects.filter(
            member_id__in=list(rows), member__status__in=ACTIVE
        ).values_list("member_id", "email", "name")
        for member_id, email, name in contacts:
            rows[member_id].append((email, name))
        for roster in by_member:
            found[roster.pk] = _entries(rows[roster.member_id])  # type: ignore[index]
    for roster in many:
        if roster.pk not in found:
            found[roster.pk] = entries(roster)
    return found


def digest(found: list[Entry]) -> str:
    """A fingerprint of the addresses: equal fingerprints, nothing to synchronise."""
    text = "\n".join(f"{entry.email} {entry.name}" for entry in found)
    return hashlib.sha256(text.encode()).hexdigest()


def feed_text(found: list[Entry]) -> str:
    """What Sympa's ``include_remote_file`` reads: one address a line, a name after a space.

    Names lose anything Sympa would read as a separator or a comment; addresses were validated
    when they entered Ronron and are checked again, so a bad one is skipped, never passed on.
    """
    lines = ["# Ronron roster"]
    for entry in found:
        try:
            validate_email(entry.email)
        except ValidationError:
            continue
        name = "".join(ch for ch in entry.name if ch.isprintable() and ch != "#").strip()
        lines.append(f"{entry.email} {name}".rstrip())
    return "\n".join(lines) + "\n"
