"""Alerts go out by e-mail to a real SMTP server on loopback (aiosmtpd) and to a real webhook
(an HTTP server on loopback): opened after N failures, closed after M successes, reminded,
silent during maintenance, grouped when checks fail together, and a dead mail server or
webhook is written down, never raised into the prober."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from ronron import config
from ronron.config import MonitoringSettings
from ronron.members import actions as members
from ronron.monitoring import alerts
from ronron.monitoring.models import AlertEvent, Check, Maintenance

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
ADMIN = "astreinte@hoster.example"
SECRET_PATH = "/hooks/s3cr3t-t0ken"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """Collects what the SMTP server receives."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for rcpt, message in self.received if address in rcpt]


@pytest.fixture
def mailbox(settings):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "ronron@hoster.example"
    yield box
    controller.stop()


class Webhook:
    """A real HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self, status: int = 204) -> None:
        self.calls: list[dict] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.calls.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def configure(settings, **values) -> None:
    defaults = {"failures_before_alert": 3, "successes_before_resolve": 2}
    defaults |= {"reminder_minutes": 60, "group_seconds": 30, "alert_emails": (ADMIN,)}
    settings.RONRON = dataclasses.replace(
        settings.RONRON, monitoring=MonitoringSettings(**(defaults | values))
    )


@pytest.fixture(autouse=True)
def alert_settings(settings):
    configure(settings)


@pytest.fixture
def velo():
    member = members.create_member(
        actor=None, number="A0001", kind="association", name="Vélo", joined_on=date(2020, 1, 1)
    )
    members.add_contact(member, actor=None, name="Tech", email="tech@velo.example", roles=["tech"])
    members.add_contact(
        member, actor=None, name="Présidente", email="presidente@velo.example", roles=["president"]
    )
    return member


def new_check(name: str, member=None, **fields) -> Check:
    return Check.objects.create(
        name=name, kind="http", target=f"https://{name}/", member=member, **fields
    )


def probed(check: Check, *, failures: int = 0, successes: int = 0, message: str = "") -> int:
    """What the prober's store writes after a probe: the counters (and the status)."""
    Check.objects.filter(pk=check.pk).update(
        consecutive_failures=failures,
        consecutive_successes=successes,
        status="down" if failures else "up",
        last_message=message,
    )
    return check.pk


def events(check: Check, kind: str | None = None) -> list[AlertEvent]:
    found = AlertEvent.objects.filter(endpoint=check).order_by("at", "pk")
    return list(found.filter(kind=kind) if kind else found)


def test_an_alert_opens_after_n_failures_and_closes_after_m_successes(mailbox) -> None:
    check = new_check("velo.example")
    for failures in (1, 2):
        alerts.process([probed(check, failures=failures)], T0)
    assert not Check.objects.get(pk=check.pk).alert_open
    assert events(check) == []

    alerts.process([probed(check, failures=3, message="HTTP 502")], T0 + timedelta(seconds=10))
    alerts.process([probed(check, failures=4, message="HTTP 502")], T0 + timedelta(seconds=20))
    opened = Check.objects.get(pk=check.pk)
    assert opened.alert_open and opened.alert_opened_at == T0 + timedelta(seconds=10)
    assert [e.kind for e in events(check)] == ["opened"]
    # Held for group_seconds in case other checks follow; then one message.
    assert mailbox.received == []
    alerts.process([], T0 + timedelta(seconds=40))
    [message] = mailbox.to(ADMIN)
    assert message["Subject"] == "[Ronron] velo.example: Down"
    assert "https://velo.example/" in message.get_content()
    assert "HTTP 502" in message.get_content()
    [event] = events(check)
    assert event.delivered and event.recipients == [ADMIN] and event.group

    alerts.process([probed(check, successes=1)], T0 + timedelta(minutes=5))
    assert Check.objects.get(pk=check.pk).alert_open
    alerts.process([probed(check, successes=2)], T0 + timedelta(minutes=6))
    alerts.process([probed(check, successes=3)], T0 + timedelta(minutes=7))
    assert not Check.objects.get(pk=check.pk).alert_open
    assert [e.kind for e in events(check)] == ["opened", "resolved"]
    assert len(mailbox.received) == 2
    assert mailbox.received[1][1]["Subject"] == "[Ronron] velo.example: Back up"


def test_reminders_follow_the_configured_interval(settings, mailbox) -> None:
    configure(settings, reminder_minutes=45, group_seconds=0)
    check = new_check("velo.example")
    alerts.process([probed(check, failures=3)], T0)
    assert alerts.remind(T0 + timedelta(minutes=44)) == 0
    assert alerts.remind(T0 + timedelta(minutes=45)) == 1
    assert alerts.remind(T0 + timedelta(minutes=46)) == 0
    assert alerts.remind(T0 + timedelta(minutes=89)) == 0
    assert alerts.remind(T0 + timedelta(minutes=90)) == 1
    assert [e.kind for e in events(check)] == ["opened", "reminder", "reminder"]
    assert [m["Subject"] for _to, m in mailbox.received] == [
        "[Ronron] velo.example: Down",
        "[Ronron] velo.example: Still down",
        "[Ronron] velo.example: Still down",
    ]
    # No reminder once it is back up.
    alerts.process([probed(check, successes=2)], T0 + timedelta(minutes=100))
    assert alerts.remind(T0 + timedelta(minutes=200)) == 0


def test_no_alert_and_no_reminder_during_maintenance(settings, mailbox) -> None:
    configure(settings, group_seconds=0)
    check, other = new_check("velo.example"), new_check("jardins.example")
    alerts.process([probed(other, failures=3)], T0 - timedelta(hours=2))  # opened before
    window = Maintenance.objects.create(
        title="Migration", starts_at=T0 - timedelta(minutes=5), ends_at=T0 + timedelta(hours=2)
    )
    for failures in range(1, 8):
        alerts.process([probed(check, failures=failures)], T0 + timedelta(minutes=failures))
    assert not Check.objects.get(pk=check.pk).alert_open
    assert alerts.remind(T0 + timedelta(hours=1)) == 0  # the other one's reminder waits
    assert events(check) == [] and len(mailbox.received) == 1

    # After the window, the next failure opens it; the other's reminder goes out.
    after = window.ends_at + timedelta(seconds=1)
    alerts.process([probed(check, failures=8)], after)
    assert alerts.remind(after) == 1
    assert [e.kind for e in events(check)] == ["opened"]
    assert [e.kind for e in events(other)] == ["opened", "reminder"]


def test_checks_failing_together_make_one_message_per_recipient_and_one_webhook_call(
    settings, mailbox, webhook, velo
) -> None:
    configure(settings, webhook_urls=(webhook.url,))
    site = new_check("velo.example", velo, notify_member=True)
    cloud = new_check("cloud.velo.example", velo, notify_member=True)
    hoster_page = new_check("ronron.hoster.example")  # the hoster's own: never the member's
    quiet = new_check("stats.velo.example", velo)  # notify_member off
    for offset, check in enumerate((site, cloud, hoster_page, quiet)):
        alerts.process([probed(check, failures=3)], T0 + timedelta(seconds=5 * offset))
    alerts.process([], T0 + timedelta(seconds=29))
    assert mailbox.received == [] and webhook.calls == []
    late = new_check("late.example")  # 31 s after the first: the next message
    alerts.process([probed(late, failures=3)], T0 + timedelta(seconds=31))

    alerts.process([], T0 + timedelta(seconds=31))
    [to_admin] = mailbox.to(ADMIN)
    assert to_admin["Subject"] == "[Ronron] 4 checks down"
    body = to_admin.get_content()
    for name in ("velo.example", "cloud.velo.example", "ronron.hoster.example", "stats.velo"):
        assert name in body
    assert "late.example" not in body
    [to_member] = mailbox.to("tech@velo.example")
    assert to_member["Subject"] == "[Ronron] 2 checks down"
    assert "cloud.velo.example" in to_member.get_content()
    assert "ronron.hoster" not in to_member.get_content()
    assert "stats.velo" not in to_member.get_content()
    assert mailbox.to("presidente@velo.example") == []  # not the technical contact
    assert len(mailbox.received) == 2

    [call] = webhook.calls
    assert call["path"] == SECRET_PATH
    assert [e["check"]["name"] for e in call["body"]["events"]] == [
        "velo.example",
        "cloud.velo.example",
        "ronron.hoster.example",
        "stats.velo.example",
    ]
    assert call["body"]["events"][0]["check"]["member"] == "A0001"
    assert call["body"]["text"].startswith("[Ronron] 4 checks down")
    group = {e.group for e in AlertEvent.objects.exclude(endpoint=late)}
    assert len(group) == 1
    assert events(site)[0].recipients == [ADMIN, "tech@velo.example", "webhook:127.0.0.1"]
    assert events(quiet)[0].recipients == [ADMIN, "webhook:127.0.0.1"]

    # The late one goes out on its own once its turn comes.
    alerts.process([], T0 + timedelta(seconds=61))
    assert len(mailbox.to(ADMIN)) == 2 and len(webhook.calls) == 2
    assert mailbox.to(ADMIN)[1]["Subject"] == "[Ronron] late.example: Down"


def test_a_dead_mail_server_or_webhook_is_recorded_and_does_not_raise(settings, velo) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    failing = Webhook(status=500)
    dead_url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"
    try:
        configure(settings, group_seconds=0, webhook_urls=(failing.url, dead_url))
        check = new_check("velo.example", velo)
        alerts.process([probed(check, failures=3)], T0)
    finally:
        failing.stop()
    [event] = events(check)
    assert event.group and not event.delivered
    assert f"{ADMIN}: " in event.error and "refused" in event.error.lower()
    assert "webhook:127.0.0.1: HTTP 500" in event.error
    assert SECRET_PATH not in event.error and "s3cr3t" not in str(event.recipients)
    assert len(failing.calls) == 1
    # Sent (and failed) once: never again.
    alerts.process([], T0 + timedelta(minutes=1))
    assert len(failing.calls) == 1 and AlertEvent.objects.count() == 1


def test_nobody_to_tell_is_recorded(settings) -> None:
    configure(settings, group_seconds=0, alert_emails=())
    check = new_check("velo.example")
    alerts.process([probed(check, failures=3)], T0)
    [event] = events(check)
    assert not event.delivered and "no recipient" in event.error


def test_a_disabled_check_neither_opens_nor_keeps_an_alert(settings, mailbox) -> None:
    configure(settings, group_seconds=0)
    check = new_check("velo.example", enabled=False)
    alerts.process([probed(check, failures=5)], T0)
    assert events(check) == []
    Check.objects.filter(pk=check.pk).update(enabled=True)
    alerts.process([probed(check, failures=6)], T0)
    Check.objects.filter(pk=check.pk).update(enabled=False)
    assert alerts.remind(T0 + timedelta(hours=3)) == 0
    assert not Check.objects.get(pk=check.pk).alert_open


def _load(tmp_path: Path, toml: str) -> config.Config:
    path = tmp_path / "ronron.toml"
    path.write_text(toml, encoding="utf-8")
    return config.load({"RONRON_CONFIG": str(path), "RONRON_DATA_DIR": str(tmp_path / "data")})


def test_the_monitoring_table_is_read_and_checked(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        "[monitoring]\nfailures_before_alert = 5\nsuccesses_before_resolve = 1\n"
        "reminder_minutes = 0\ngroup_seconds = 10\n"
        'alert_emails = ["a@hoster.example"]\n'
        'webhook_urls = ["https://chat.example/hooks/s3cr3t"]\n',
    )
    assert loaded.monitoring == MonitoringSettings(5, 1, 0, 10, ("a@hoster.example",), (
        "https://chat.example/hooks/s3cr3t",
    ))  # fmt: skip
    assert "s3cr3t" not in repr(loaded)
    assert _load(tmp_path, "").monitoring == MonitoringSettings()


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("failures_before_alert = 0", "monitoring.failures_before_alert"),
        ('failures_before_alert = "3"', "monitoring.failures_before_alert"),
        ("successes_before_resolve = -1", "monitoring.successes_before_resolve"),
        ("reminder_minutes = -5", "monitoring.reminder_minutes"),
        ("group_seconds = 100000", "monitoring.group_seconds"),
        ('alert_emails = "a@b.example"', "monitoring.alert_emails"),
        ('alert_emails = ["not an address"]', "monitoring.alert_emails"),
        ('webhook_urls = ["ftp://chat.example/s3cr3t"]', "monitoring.webhook_urls"),
        ('webhook_urls = ["https://chat.example:99999/s3cr3t"]', "monitoring.webhook_urls"),
        ('webhook_urls = ["https://chat.example/\\ns3cr3t"]', "monitoring.webhook_urls"),
        ("colour = 1", "monitoring.colour"),
    ],
)
def test_a_wrong_monitoring_value_is_named(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        _load(tmp_path, f"[monitoring]\n{toml}\n")
    assert f"{key}: " in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
