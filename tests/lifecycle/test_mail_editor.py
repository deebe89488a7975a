"""The console's message editor: every message listed, its text edited per language with a
preview, bad texts refused next to their field, and the built-in text back on request — each
change in the audit, and the next message sent with the admin's words."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail as outbox
from django.urls import reverse

from ronron.core.models import AuditEntry, MailTemplate
from tests.lifecycle.conftest import contact, new_member, run_chore

pytestmark = pytest.mark.django_db

EDIT = "/mail/dues.call/en/"


def test_every_message_is_listed_with_whether_it_was_changed(console):
    MailTemplate.objects.create(key="dues.reminder", language="fr", subject="Rappel", body="x")
    page = console.get(reverse("mail:list"))
    assert page.status_code == 200
    text = page.content.decode()
    for key in (
        "secrets.credentials",
        "monitoring.alert",
        "dues.call",
        "dues.reminder",
        "dues.cutoff",
        "dues.suspended",
        "offboarding.notice_received",
        "offboarding.export_ready",
    ):
        assert key in text
        assert f'href="/mail/{key}/fr/"' in text and f'href="/mail/{key}/en/"' in text
    assert "Dues reminder (to the treasurer)" in text
    row = text.split('<code class="muted">dues.reminder</code>')[1].split("</tr>")[0]
    assert "changed" in row and "built-in text" in row  # French changed, English not


def test_the_editor_shows_the_text_its_variables_and_a_preview(console):
    page = console.get(EDIT)
    assert page.status_code == 200
    text = page.content.decode()
    assert "[{{ hoster_name }}] {{ year }} dues — {{ member_name }}" in text  # the source
    assert "member_number" in text and "Amount of the dues" in text  # the variables
    # The preview: made-up values, the hoster's name, an English date.
    assert "[Le Chaton Libre] 2027 dues — Les Amis du Vélo" in text
    assert "June 1, 2027" in text and "30.00 €" in text

    french = console.get("/mail/dues.call/fr/").content.decode()
    assert "Appel de cotisation {{ year }}" in french
    assert "1 juin 2027" in french and "30,00 €" in french


def test_a_preview_shows_the_change_and_saves_nothing(console):
    page = console.post(
        EDIT,
        {
            "subject": "Dues {{ year }} for {{ member_number }}",
            "body": "Pay {{ amount }}.",
            "preview": "1",
        },
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Dues 2027 for A0202" in text and "Pay 30.00." in text
    assert not MailTemplate.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="mail_template.").exists()


@pytest.mark.parametrize(
    ("subject", "body", "field", "message"),
    [
        ("Dues {{ year }}", "{% if amount %}no end", "body", "cannot be used"),
        ("Dues {% year %}", "Hello", "subject", "cannot be used"),
        ("Dues\r\nBcc: everyone@example.org", "Hello", "subject", "must fit on one line"),
        ("Dues {{ year|nosuchfilter }}", "Hello", "subject", "cannot be used"),
        ("", "Hello", "subject", "This field is required"),
    ],
)
def test_a_bad_text_is_refused_next_to_its_field(console, subject, body, field, message):
    page = console.post(EDIT, {"subject": subject, "body": body, "save": "1"})
    assert page.status_code == 200
    form = page.context["form"]
    assert message in " ".join(form.errors[field])
    assert 'class="field field--error"' in page.content.decode()
    assert not MailTemplate.objects.exists()


def test_a_saved_text_is_used_audited_and_can_be_reset(console, staff_user):
    subject = "[{{ hoster_name }}] Time to renew, {{ member_name }}"
    body = "Dear treasurer,\r\nthe {{ year }} dues are {{ amount }} €.\r\n"
    saved = console.post(EDIT, {"subject": subject, "body": body, "save": "1"})
    assert saved.status_code == 302 and saved["Location"] == EDIT
    template = MailTemplate.objects.get(key="dues.call", language="en")
    assert template.updated_by == staff_user and "\r" not in template.body
    entry = AuditEntry.objects.get(action="mail_template.saved")
    assert entry.actor == staff_user and entry.before is None
    assert entry.after == {"subject": subject, "body": template.body}
    assert "This is your hoster's own version" in console.get(EDIT).content.decode()

    # The next dues call is written with the admin's words.
    member = new_member("A0202", "Les Amis du Vélo")
    contact(member, "Tresorier", "treasurer")
    run_chore("dues.follow_up", "2026-12-01T08:00")
    [message] = outbox.outbox
    assert message.subject == "[Le Chaton Libre] Time to renew, Les Amis du Vélo"
    assert message.body == "Dear treasurer,\nthe 2027 dues are 30.00 €.\n"

    # A second change keeps the first one as "before".
    console.post(EDIT, {"subject": "Renew", "body": "Please.", "save": "1"})
    second = AuditEntry.objects.filter(action="mail_template.saved").first()
    assert second is not None and second.before == {"subject": subject, "body": template.body}

    reset = console.post(reverse("mail:reset", args=["dues.call", "en"]))
    assert reset.status_code == 302
    assert not MailTemplate.objects.exists()
    assert AuditEntry.objects.get(action="mail_template.reset").before["subject"] == "Renew"
    page = console.get(EDIT).content.decode()
    assert "This is the text Ronron comes with" in page
    assert "{{ year }} dues — {{ member_name }}" in page


def test_the_editor_is_for_staff_only(client, django_user_model):
    anonymous = client.get(EDIT)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    manager = django_user_model.objects.create_user(username="manager", password="x-y-z-w-1234")
    client.force_login(manager)
    assert client.get(reverse("mail:list")).status_code == 403
    assert client.post(EDIT, {"subject": "x", "body": "y", "save": "1"}).status_code == 403
    assert client.post(reverse("mail:reset", args=["dues.call", "en"])).status_code == 403
    assert not MailTemplate.objects.exists()


def test_an_unknown_message_or_language_is_not_found(console):
    assert console.get("/mail/no.such.message/en/").status_code == 404
    assert console.get("/mail/dues.call/de/").status_code == 404
    assert console.post("/mail/dues.call/de/reset/").status_code == 404


MINE = (
    "secrets.credentials",
    "monitoring.alert",
    "dues.call",
    "dues.reminder",
    "dues.cutoff",
    "dues.suspended",
    "offboarding.notice_received",
    "offboarding.export_ready",
)


@pytest.mark.parametrize("key", MINE)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_built_in_text_renders_with_all_its_variables(console, key, language):
    from ronron.core import mail

    kind = mail.load_kinds()[key]
    subject, body = mail.builtin_text(key, language)
    mail.check_text(subject, body)
    rendered = mail.render_text(subject, body, mail.sample_context(key, language), language)
    # Every variable has a sample: no "[name]" placeholder is left in the preview.
    for name in kind.variables:
        assert f"[{name}]" not in "".join(rendered), (key, language, name)
    assert rendered[0].startswith("[Le Chaton Libre]") or key == "monitoring.alert"


def test_today_is_not_used(console):
    # The preview's dates are the samples', not today's: the page reads the same every day.
    assert str(date.today().year + 5) not in console.get(EDIT).content.decode()
