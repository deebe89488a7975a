"""``ronron services …``: the same actions as the console, from the command line."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from ronron.core.models import AuditEntry
from ronron.members import actions as member_actions
from ronron.secrets.models import Delivery
from ronron.services import actions
from ronron.services.models import Service

pytestmark = pytest.mark.django_db


def services(*args: str) -> str:
    out = io.StringIO()
    call_command("services", *args, stdout=out)
    return out.getvalue()


def test_request_records_the_service_on_the_roomiest_server(member, web1, web2, staff_user):
    out = services(
        "request",
        "--member",
        "A0202",
        "--kind",
        "wordpress",
        "--domain",
        "velo.example.org",
        "--alias",
        "www.velo.example.org",
        "--title",
        "Le Vélo",
        "--admin-email",
        "bureau@velo.example.org",
        "--user",
        "camille",
    )
    service = Service.objects.get()
    assert f"service {service.pk}" in out and "next apply" in out
    assert service.server == web2
    assert service.spec["aliases"] == ["www.velo.example.org"]
    assert service.spec["admin_email"] == "bureau@velo.example.org"
    assert AuditEntry.objects.get(action="service.requested").actor == staff_user


def test_request_on_a_chosen_server(member, web1, web2):
    services(
        "request", "--member", "A0202", "--kind", "static", "--domain", "velo.example.org",
        "--server", "web1",
    )  # fmt: skip
    assert Service.objects.get().server == web1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "pas un nom"], "domain: “pas un nom” is not a valid domain name."),
        (["--domain", "velo.example.org", "--kind", "pad"], "kind: Ronron cannot create"),
        (["--domain", "velo.example.org", "--server", "web9"], "No server called web9."),
        (["--domain", "velo.example.org", "--member", "Z9999"], "No member numbered Z9999."),
    ],
)
def test_request_errors_stop_with_a_message_and_write_nothing(member, web1, args, message):
    base = {"--member": "A0202", "--kind": "static"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [item for pair in base.items() for item in pair]
    with pytest.raises(CommandError) as raised:
        services("request", *argv)
    assert message in str(raised.value)
    assert raised.value.returncode == 1
    assert not Service.objects.exists()


def test_list_filters_by_member_and_server(member, web1, web2):
    other = member_actions.create_member(
        actor=None, number="A0300", kind="association", name="Chorale", joined_on=date(2021, 1, 1)
    )
    actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    actions.request_service(
        other, actor=None, kind="static", domain="chorale.example.org", server=web2
    )
    out = services("list")
    assert "velo.example.org" in out and "chorale.example.org" in out
    assert "ID" in out.splitlines()[0]
    out = services("list", "--member", "A0300")
    assert "chorale.example.org" in out and "velo.example.org" not in out
    out = services("list", "--server", "web1")
    assert "velo.example.org" in out and "chorale.example.org" not in out
    assert "No managed service." in services("list", "--server", "nowhere")


def test_suspend_resume_remove(member, web1):
    service = actions.request_service(
        member, actor=None, kind="static", domain="velo.example.org", server=web1
    )
    pk = str(service.pk)
    assert "suspended at the next apply" in services("suspend", pk)
    service.refresh_from_db()
    assert service.wanted_state == "suspended"
    with pytest.raises(CommandError, match="cannot be done while the service is") as raised:
        services("suspend", pk)
    assert raised.value.returncode == 1
    services("resume", pk)
    service.refresh_from_db()
    assert service.wanted_state == "present"
    assert "archived, the archive verified" in services("remove", pk)
    service.refresh_from_db()
    assert service.wanted_state == "absent"
    with pytest.raises(CommandError, match="No managed service numbered 999"):
        services("remove", "999")


def installed_site(member, web1) -> Service:
    """A WordPress site as the reconciler last saw it: installed (no server is reached here)."""
    service = actions.request_service(
        member, actor=None, kind="wordpress", domain="velo.example.org", server=web1
    )
    Service.objects.filter(pk=service.pk).update(observed_state=Service.Observed.PRESENT)
    return service


def test_new_credentials_need_an_installed_site(member, web1):
    service = actions.request_service(
        member, actor=None, kind="wordpress", domain="velo.example.org", server=web1
    )
    member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    with pytest.raises(CommandError, match="not installed on its server yet") as raised:
        services("credentials", str(service.pk))
    assert raised.value.returncode == 1
    assert mail.outbox == []


def test_new_credentials_go_to_a_contact_of_the_member_only(member, web1):
    service = installed_site(member, web1)
    with pytest.raises(CommandError, match="no contact with an e-mail address"):
        services("credentials", str(service.pk))
    member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    with pytest.raises(CommandError, match="not one of the member's contacts"):
        services("credentials", str(service.pk), "--to", "quelquun@ailleurs.example")
    assert mail.outbox == []


def test_a_password_the_server_refuses_is_neither_kept_nor_sent(member, web1):
    # The site's system user does not exist on this machine: setting the password fails.
    service = installed_site(member, web1)
    member_actions.add_contact(
        member, actor=None, name="Tech", email="tech@velo.example.org", roles="tech"
    )
    with pytest.raises(CommandError, match="could not be changed on the server") as raised:
        services("credentials", str(service.pk), "--to", "TECH@velo.example.org")
    assert raised.value.returncode == 1
    service.refresh_from_db()
    assert "admin_password" not in (service.credentials or {})
    assert mail.outbox == []
    assert not Delivery.objects.exists()


def test_unknown_user_is_refused(member, web1):
    with pytest.raises(CommandError, match="No user called nobody"):
        services("suspend", "1", "--user", "nobody")
