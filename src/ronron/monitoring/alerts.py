"""Alerts: opened after N failed probes in a row, closed after M good ones, repeated while open.

Nothing here waits on the network while the prober holds a transaction: an alert's change is
first recorded as an ``AlertEvent`` without a ``group`` (pending); ``flush`` sends the oldest
pending event ``group_seconds`` after it, together with every event that came within that time,
so that checks failing at once (a server down takes its thirty sites with it) make one message
per recipient and one webhook call, not thirty. An event is claimed (given its group) before it
is sent, so two probers flushing at once never send it twice. Delivery failures are written on
the events and never raised: the prober goes on probing.

Recipients: ``[monitoring] alert_emails`` get every event; a member's technical contacts get
those of its checks marked ``notify_member``; each of ``[monitoring] webhook_urls`` gets a JSON
POST (with a Slack/Mattermost-style "text").
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import ngettext

from ronron.config import MonitoringSettings
from ronron.core import mail
from ronron.members.models import Contact
from ronron.monitoring import maintenance
from ronron.monitoring.models import AlertEvent, Check

logger = logging.getLogger(__name__)

# Seconds a webhook may take before the delivery counts as failed.
DELIVERY_TIMEOUT = 10
# The message (core.mail) that carries alerts; its texts are in templates/mail/.
MAIL_KIND = "monitoring.alert"
# Primary keys per query: SQLite limits the parameters of one statement.
_CHUNK = 900
_ERROR_LENGTH = 500


def _settings() -> MonitoringSettings:
    return settings.RONRON.monitoring


def _chunks(pks: list[int]) -> Iterable[list[int]]:
    for index in range(0, len(pks), _CHUNK):
        yield pks[index : index + _CHUNK]


def process(check_pks: Iterable[int], now: datetime | None = None) -> int:
    """Open or close the alerts of checks whose failure or success counters just moved, then
    send what is due. Returns how many alerts opened or closed."""
    now = now or timezone.now()
    config = _settings()
    pks = sorted(set(check_pks))
    to_open: list[int] = []
    to_resolve: list[int] = []
    for chunk in _chunks(pks):
        for pk, is_open, failures, successes in Check.objects.filter(
            pk__in=chunk, enabled=True
        ).values_list("pk", "alert_open", "consecutive_failures", "consecutive_successes"):
            if not is_open and failures >= config.failures_before_alert:
                to_open.append(pk)
            elif is_open and successes >= config.successes_before_resolve:
                to_resolve.append(pk)
    if to_open:
        # No alert opens during maintenance; the failures keep counting, so one opens on the
        # next failure after the window if the check is still down.
        in_maintenance = maintenance.active_check_ids(now)
        to_open = [pk for pk in to_open if pk not in in_maintenance]
    changed = 0
    if to_open or to_resolve:
        with transaction.atomic():
            events: list[AlertEvent] = []
            for chunk in _chunks(to_open):
                opened = Check.objects.filter(pk__in=chunk, alert_open=False)
                # Locked and read before the update: only the rows it changes get an event.
                really = list(
                    opened.order_by("pk").select_for_update().values_list("pk", flat=True)
                )
                opened.update(alert_open=True, alert_opened_at=now, alert_reminded_at=None)
                events += [AlertEvent(endpoint_id=pk, kind=AlertEvent.Kind.OPENED, at=now)
                           for pk in really]  # fmt: skip
            for chunk in _chunks(to_resolve):
                resolved = Check.objects.filter(pk__in=chunk, alert_open=True)
                really = list(
                    resolved.order_by("pk").select_for_update().values_list("pk", flat=True)
                )
                resolved.update(alert_open=False)
                events += [AlertEvent(endpoint_id=pk, kind=AlertEvent.Kind.RESOLVED, at=now)
                           for pk in really]  # fmt: skip
            AlertEvent.objects.bulk_create(events)
            changed = len(events)
    flush(now)
    return changed


def remind(now: datetime | None = None) -> int:
    """Record a reminder for each alert open for ``reminder_minutes`` since it opened or was
    last reminded (none for a check under maintenance), then send what is due. Returns how
    many reminders."""
    now = now or timezone.now()
    config = _settings()
    # A disabled check (a suspended service's) is not watched: its alert has no meaning.
    Check.objects.filter(enabled=False, alert_open=True).update(alert_open=False)
    due: list[int] = []
    if config.reminder_minutes:
        cutoff = now - timedelta(minutes=config.reminder_minutes)
        due = list(
            Check.objects.filter(enabled=True, alert_open=True)
            .filter(
                Q(alert_reminded_at__lte=cutoff)
                | Q(alert_reminded_at__isnull=True, alert_opened_at__lte=cutoff)
            )
            .values_list("pk", flat=True)
        )
    if due:
        in_maintenance = maintenance.active_check_ids(now)
        due = [pk for pk in due if pk not in in_maintenance]
    if due:
        with transaction.atomic():
            for chunk in _chunks(due):
                Check.objects.filter(pk__in=chunk).update(alert_reminded_at=now)
            AlertEvent.objects.bulk_create(
                AlertEvent(endpoint_id=pk, kind=AlertEvent.Kind.REMINDER, at=now) for pk in due
            )
    flush(now)
    return len(due)


def flush(now: datetime | None = None) -> int:
    """Send the pending events in groups: a group is the oldest pending event and those that
    came within ``group_seconds`` after it, sent once that time has passed — one message per
    recipient, one call per webhook. Returns how many events went out (or failed to)."""
    now = now or timezone.now()
    config = _settings()
    window = timedelta(seconds=config.group_seconds)
    pending = list(AlertEvent.objects.filter(group="").order_by("at", "pk").values_list("pk", "at"))
    sent = 0
    while pending and pending[0][1] + window <= now:
        closes = pending[0][1] + window
        members = [pk for pk, at in pending if at <= closes]
        pending = [(pk, at) for pk, at in pending if at > closes]
        sent += _send_group(members, config)
    return sent


def _send_group(pks: list[int], config: MonitoringSettings) -> int:
    group = uuid.uuid4().hex
    for chunk in _chunks(pks):
        # The claim: an event another prober claimed first is no longer ``group=""``.
        AlertEvent.objects.filter(pk__in=chunk, group="").update(group=group)
    events = list(
        AlertEvent.objects.filter(group=group)
        .select_related("endpoint", "endpoint__member")
        .order_by("at", "pk")
    )
    if events:
        _deliver(events, config)
        AlertEvent.objects.bulk_update(events, ["recipients", "delivered", "error"], batch_size=500)
    return len(events)


@dataclass
class _Outcome:
    """What became of the deliveries that concern one event."""

    recipients: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _deliver(events: list[AlertEvent], config: MonitoringSettings) -> None:
    outcomes = {event.pk: _Outcome() for event in events}
    audience = _audience(events, config)
    _send_mails(audience, outcomes)
    for url in config.webhook_urls:
        label = f"webhook:{urllib.parse.urlsplit(url).hostname}"
        error = _post_webhook(url, events)
        for event in events:
            outcomes[event.pk].recipients.append(label)
            if error:
                outcomes[event.pk].errors.append(f"{label}: {error}")
    for event in events:
        outcome = outcomes[event.pk]
        if not outcome.recipients:
            outcome.errors.append(
                "no recipient: [monitoring] alert_emails and webhook_urls are empty"
            )
        event.recipients = outcome.recipients
        event.delivered = not outcome.errors
        event.error = "; ".join(outcome.errors)[:_ERROR_LENGTH]


def _audience(events: list[AlertEvent], config: MonitoringSettings) -> dict[str, list[AlertEvent]]:
    """Each e-mail address and the events it is told about, in order."""
    audience: dict[str, list[AlertEvent]] = {}
    for email in config.alert_emails:
        audience.setdefault(email.lower(), list(events))
    members = {event.endpoint.member_id for event in events if event.endpoint.notify_member}
    members.discard(None)
    technical: dict[int, set[str]] = {}
    for member_id, email in Contact.objects.filter(
        member_id__in=members, roles__contains=Contact.Role.TECH
    ).values_list("member_id", "email"):
        technical.setdefault(member_id, set()).add(email.lower())
    for event in events:
        if not event.endpoint.notify_member or event.endpoint.member_id is None:
            continue
        for email in sorted(technical.get(event.endpoint.member_id, ())):
            told = audience.setdefault(email, [])
            if event not in told:
                told.append(event)
    return audience


def _send_mails(audience: dict[str, list[AlertEvent]], outcomes: dict[int, _Outcome]) -> None:
    if not audience:
        return
    try:
        with mail.one_connection() as connection:
            for email, told in audience.items():
                error = None
                try:
                    mail.send(
                        MAIL_KIND,
                        [email],
                        alert_context(told, settings.LANGUAGE_CODE),
                        language=settings.LANGUAGE_CODE,
                        connection=connection,
                    )
                except Exception as exc:  # recorded on the events, never raised
                    error = _describe(exc)
                _told(email, told, error, outcomes)
    except mail.MailFailed as exc:  # the prober must go on whatever the mail server does
        opening_error = _describe(exc)
        for email, told in audience.items():
            _told(email, told, opening_error, outcomes)


def _told(
    email: str, told: list[AlertEvent], error: str | None, outcomes: dict[int, _Outcome]
) -> None:
    if error:
        logger.warning("alert mail to %s not sent: %s", email, error)
    for event in told:
        outcomes[event.pk].recipients.append(email)
        if error:
            outcomes[event.pk].errors.append(f"{email}: {error}")


def _describe(exc: BaseException) -> str:
    """A failure in a few words; SMTP replies and socket errors carry no credentials."""
    text = str(exc).strip() or type(exc).__name__
    return text.replace("\r", " ").replace("\n", " ")[:200]


def alert_context(events: list[AlertEvent], language: str) -> dict[str, Any]:
    """What the ``monitoring.alert`` text is rendered with: every event, the events of each
    kind, and a one-line summary for the subject ("3 checks down, 1 back up")."""
    with translation.override(language):
        rows = [
            {
                "kind": event.kind,
                "state": str(event.get_kind_display()),
                "name": event.endpoint.name,
                "target": event.endpoint.target,
                "at": event.at,
                "message": event.endpoint.last_message,
                "member": event.endpoint.member.number if event.endpoint.member else "",
            }
            for event in events
        ]
        summary = _summary(events)
    return {
        "events": rows,
        "summary": summary,
        "opened": [row for row in rows if row["kind"] == AlertEvent.Kind.OPENED],
        "still_down": [row for row in rows if row["kind"] == AlertEvent.Kind.REMINDER],
        "back_up": [row for row in rows if row["kind"] == AlertEvent.Kind.RESOLVED],
    }


def _summary(events: list[AlertEvent]) -> str:
    counts = {kind: sum(1 for e in events if e.kind == kind) for kind in AlertEvent.Kind.values}
    parts = []
    if counts[AlertEvent.Kind.OPENED]:
        parts.append(
            ngettext("%(count)d check down", "%(count)d checks down", counts["opened"])
            % {"count": counts["opened"]}
        )
    if counts[AlertEvent.Kind.REMINDER]:
        parts.append(
            ngettext("%(count)d still down", "%(count)d still down", counts["reminder"])
            % {"count": counts["reminder"]}
        )
    if counts[AlertEvent.Kind.RESOLVED]:
        parts.append(
            ngettext("%(count)d back up", "%(count)d back up", counts["resolved"])
            % {"count": counts["resolved"]}
        )
    return ", ".join(parts)


def _payload(events: list[AlertEvent]) -> dict[str, Any]:
    # The chat sees the same words as the mail (the hoster's text, in its language).
    language = settings.LANGUAGE_CODE
    subject, body = mail.render(MAIL_KIND, alert_context(events, language), language)
    return {
        "text": subject + "\n" + body,
        "hoster": settings.RONRON.hoster_name,
        "events": [
            {
                "kind": event.kind,
                "at": event.at.isoformat(),
                "check": {
                    "id": event.endpoint_id,
                    "name": event.endpoint.name,
                    "target": event.endpoint.target,
                    "member": event.endpoint.member.number if event.endpoint.member else None,
                    "status": event.endpoint.status,
                    "message": event.endpoint.last_message,
                },
            }
            for event in events
        ],
    }


def _post_webhook(url: str, events: list[AlertEvent]) -> str | None:
    """POST the events as JSON; the error in a few words, None when the hook took them.

    The address is never written in an error or a log line: it often holds a secret token."""
    host = urllib.parse.urlsplit(url).hostname
    body = json.dumps(_payload(events)).encode()
    try:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked by the config
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "Ronron monitoring"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT) as response:  # noqa: S310
            response.read(1024)
    except urllib.error.HTTPError as exc:
        error = f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        error = _describe(reason if isinstance(reason, BaseException) else Exception(reason))
    except ValueError:
        error = "not a usable address"  # its text would repeat the address
    except OSError as exc:
        error = _describe(exc)
    else:
        return None
    logger.warning("alert webhook to %s failed: %s", host, error)
    return error
