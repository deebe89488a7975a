"""The managed-service pages of the staff console. Views stay thin: forms shape, actions change;
the reconciler makes the truth real at the next apply."""

from __future__ import annotations

from typing import Any

import idna
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.models import AuditEntry
from ronron.core.permissions import staff_required
from ronron.drivers.base import driver_for
from ronron.drivers.web.site import Limits
from ronron.members.models import Member
from ronron.reconcile.actions import start_apply
from ronron.reconcile.models import RunStep
from ronron.reconcile.views import badge
from ronron.services import actions, handover
from ronron.services.forms import (
    LIMIT_LABELS,
    LIST_FIELDS,
    WORDPRESS_FIELDS,
    SendCredentialsForm,
    ServiceRequestForm,
    ServiceSettingsForm,
    locate_spec_errors,
    tech_email,
)
from ronron.services.forms_cloud import CLOUD_KINDS
from ronron.services.models import Service
from ronron.services.views_cloud import (
    cloud_observation,
    cloud_panel,
    cloud_settings,
    create_cloud_service,
    create_form_fields,
    state_words,
)
from ronron.services.views_rosters import roster_panel

RECENT_RUNS = 5
HISTORY_SIZE = 30
DELIVERIES_SHOWN = 10
# Placement errors are not keyed by field; they are about the server all the same.
SERVER_ERROR_CODES = {"no_server", "no_room", "role"}

# The parts a driver observes, in plain words (drivers name them; see their ``observe``).
PART_LABELS: dict[str, Any] = {
    "system-user": gettext_lazy("System user of the site"),
    "web-server-in-group": gettext_lazy("The web server may read the site's files"),
    "files": gettext_lazy("Folder of the site"),
    "directories": gettext_lazy("Folders ready"),
    "htdocs-empty": gettext_lazy("No file published yet"),
    "shared-links": gettext_lazy("Links to the shared WordPress files"),
    "database": gettext_lazy("Database"),
    "database-user": gettext_lazy("Database user"),
    "database-password": gettext_lazy("Database password works"),
    "config-file": gettext_lazy("WordPress configuration file"),
    "config": gettext_lazy("WordPress configuration up to date"),
    "php-pool-file": gettext_lazy("PHP configuration file"),
    "php-pool": gettext_lazy("PHP configuration up to date"),
    "nginx-site-file": gettext_lazy("Web server configuration file"),
    "nginx-site": gettext_lazy("Web server configuration"),
    "reload-pending": gettext_lazy("Web server still to be reloaded"),
    "nginx-reload-pending": gettext_lazy("Web server still to be reloaded"),
    "suspended-page": gettext_lazy("“Service suspended” page ready"),
    "installed": gettext_lazy("WordPress installed"),
    "tls": gettext_lazy("HTTPS certificate"),
    "archive": gettext_lazy("Archive exported"),
}
VALUE_WORDS: dict[Any, Any] = {
    True: gettext_lazy("yes"),
    False: gettext_lazy("no"),
    None: gettext_lazy("no"),
    "present": gettext_lazy("active"),
    "suspended": gettext_lazy("shows the “service suspended” page"),
    "stale": gettext_lazy("out of date"),
}
# Observed states that match each wanted state.
IN_STEP = {"present": "present", "suspended": "suspended", "absent": "absent"}


def shown_domain(domain: str) -> str:
    """A domain as people write it (``café.fr``) rather than its IDNA form."""
    try:
        return idna.decode(domain) if domain else ""
    except idna.IDNAError:
        return domain


def _service(pk: int) -> Service:
    return get_object_or_404(Service.objects.select_related("member", "server"), pk=pk)


def _name(service: Service) -> str:
    """What a service is called on its pages: its address, or its kind and member."""
    return shown_domain(service.domain) or str(service)


def _attach(form: Any, error: ValidationError) -> None:
    """An action's error next to the field it is about (``spec`` errors left by the action
    concern names already used: the aliases)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = "aliases" if field == "spec" else field
            for item in errors:
                form.add_error(target if target in form.fields else None, item)
        return
    for item in error.error_list:
        about_server = item.code in SERVER_ERROR_CODES and "server" in form.fields
        form.add_error("server" if about_server else None, item)


@staff_required
def service_create(request: HttpRequest) -> HttpResponse:
    member: Member | None = None
    initial: dict[str, Any] = {}
    raw = request.GET.get("member", "")
    if raw.isdigit():
        member = Member.objects.filter(pk=int(raw)).first()
    if member is not None:
        initial = {"member": member.pk, "admin_email": tech_email(member)}
    form = ServiceRequestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and form.cleaned_data["kind"] in CLOUD_KINDS:
        created = create_cloud_service(request, form)
        if created is not None:
            messages.success(request, _("Recorded. It will be created at the next apply."))
            return redirect("services:detail", pk=created.pk)
    elif request.method == "POST" and form.is_valid():
        member = form.cleaned_data["member"]
        kind = form.cleaned_data["kind"]
        spec = form.spec(member)
        located = locate_spec_errors(driver_for(kind), spec)
        if located:
            form.attach_spec_errors(located)
        else:
            try:
                service = actions.request_service(
                    member,
                    actor=request.user,
                    kind=kind,
                    domain=form.cleaned_data["domain"],
                    spec=spec,
                    server=form.cleaned_data["server"],
                )
            except ValidationError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("Recorded. It will be created at the next apply."))
                return redirect("services:detail", pk=service.pk)
    return render(
        request,
        "services/form.html",
        {
            "form": form,
            "member": member,
            "main_fields": [form[n] for n in ("member", "kind", "domain", "aliases", "server")],
            "wordpress_fields": [form[n] for n in WORDPRESS_FIELDS],
            "list_fields": [form[n] for n in LIST_FIELDS],
            **create_form_fields(form),
            **_limit_fields(form),
        },
        status=400 if form.errors else 200,
    )


def _limit_fields(form: Any) -> dict[str, Any]:
    fields = [form[n] for n in form.fields if n.startswith("limit_")]
    return {"limit_fields": fields, "limits_open": any(f.errors for f in fields)}


def _observation(service: Service) -> list[tuple[Any, Any]]:
    parts = (service.observed or {}).get("parts") or {}
    rows = []
    for key, value in parts.items():
        word = VALUE_WORDS.get(value, value) if isinstance(value, bool | str | None) else value
        rows.append((PART_LABELS.get(key, key), word))
    return rows


def _journal(service: Service) -> list[tuple[Any, list[RunStep]]]:
    steps = list(
        RunStep.objects.filter(service=service)
        .select_related("run")
        .order_by("-run__created_at", "-run_id", "position")
    )
    runs: list[tuple[Any, list[RunStep]]] = []
    for step in steps:
        step.badge = badge(step.status)  # type: ignore[attr-defined]
        if not runs or runs[-1][0].pk != step.run_id:
            if len(runs) == RECENT_RUNS:
                break
            runs.append((step.run, []))
        runs[-1][1].append(step)
    return runs


def _settings(service: Service) -> list[tuple[Any, Any]]:
    spec = service.spec or {}
    rows: list[tuple[Any, Any]] = []
    for key, label in (
        ("title", _("Site title")),
        ("admin_user", _("Administrator's login")),
        ("admin_email", _("Administrator's e-mail")),
        ("language", _("Language")),
    ):
        if spec.get(key):
            rows.append((label, spec[key]))
    defaults = Limits()
    for name, value in (spec.get("limits") or {}).items():
        label = LIMIT_LABELS.get(name, name)
        rows.append(
            (
                label,
                _("%(value)s (default: %(default)s)")
                % {
                    "value": value,
                    "default": getattr(defaults, name, "—"),
                },
            )
        )
    return rows


def _credentials_panel(service: Service, live: bool) -> dict[str, Any]:
    """The credentials Ronron made for the member: the links sent, whether they were opened,
    what is still waiting to be handed over, and the form to send new ones."""
    if not service.managed or not handover.supports_hand_over(service):
        return {"credentials_panel": False}
    driver: Any = driver_for(service.kind)
    waiting = bool(driver.credentials_to_hand_over(service))
    can_send = live and service.observed_state in handover.RUNNING
    return {
        "credentials_panel": True,
        "deliveries": list(service.secret_deliveries.all()[:DELIVERIES_SHOWN]),
        "credentials_waiting": waiting,
        "credentials_failure": handover.last_failure(service) if waiting else None,
        "send_form": SendCredentialsForm(member=service.member) if can_send else None,
        "now": timezone.now(),
    }


@staff_required
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    live = service.managed and service.removed_at is None
    wanted = service.wanted_state
    facts = (service.observed or {}).get("facts") or {}
    history = AuditEntry.objects.filter(
        object_type="services.service", object_id=str(service.pk)
    ).order_by("-created_at")[:HISTORY_SIZE]
    return render(
        request,
        "services/detail.html",
        {
            "service": service,
            "domain": shown_domain(service.domain),
            # A list's "domain" is its e-mail address, not a web site.
            "site_url": f"{'https' if facts.get('tls') else 'http'}://{service.domain}/"
            if service.domain and service.family == "web"
            else "",
            "aliases": [shown_domain(a) for a in (service.spec or {}).get("aliases", [])],
            "settings_rows": _settings(service),
            "observation": cloud_observation(service)
            if service.kind in CLOUD_KINDS
            else _observation(service),
            "in_step": service.observed_state == IN_STEP.get(wanted),
            "runs": _journal(service),
            "live": live,
            "can_suspend": live and wanted == Service.Wanted.PRESENT,
            "can_resume": live and wanted == Service.Wanted.SUSPENDED,
            "can_remove": live and wanted != Service.Wanted.ABSENT,
            "can_change": live and wanted != Service.Wanted.ABSENT,
            **_credentials_panel(service, live),
            "history": history,
            **roster_panel(service),
            **cloud_panel(service),
        },
    )


def _confirm_page(
    request: HttpRequest, service: Service, *, title: str, text: str, button: str, danger: bool
) -> HttpResponse:
    return render(
        request,
        "services/confirm.html",
        {"service": service, "title": title, "text": text, "button": button, "danger": danger},
    )


def _change_state(request: HttpRequest, service: Service, action: Any, done: str) -> HttpResponse:
    try:
        action(service, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("services:detail", pk=service.pk)


@staff_required
def service_suspend(request: HttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    words = state_words(service) or {}
    if request.method == "POST":
        return _change_state(
            request,
            service,
            actions.suspend_service,
            str(
                words.get("suspended")
                or _("Recorded. The site will be suspended at the next apply.")
            ),
        )
    return _confirm_page(
        request,
        service,
        title=_("Suspend %(domain)s") % {"domain": _name(service)},
        text=str(
            words.get("suspend_text")
            or _(
                "Visitors will see a “service suspended” page instead of the site. Nothing is "
                "deleted: files, database and settings stay as they are, and resuming the "
                "service brings the site back exactly as it was."
            )
        ),
        button=str(words.get("suspend_button") or _("Suspend the site")),
        danger=True,
    )


@require_POST
@staff_required
def service_resume(request: HttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    words = state_words(service) or {}
    return _change_state(
        request,
        service,
        actions.resume_service,
        str(words.get("resumed") or _("Recorded. The site will be back at the next apply.")),
    )


@staff_required
def service_remove(request: HttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    words = state_words(service) or {}
    if request.method == "POST":
        return _change_state(
            request,
            service,
            actions.remove_service,
            str(
                words.get("removed")
                or _("Recorded. The site will be archived, then removed, at the next apply.")
            ),
        )
    return _confirm_page(
        request,
        service,
        title=_("Remove %(domain)s") % {"domain": _name(service)},
        text=str(
            words.get("remove_text")
            or _(
                "At the next apply, the site will be exported to an archive, the archive "
                "verified, and only then removed from its server. The archive is kept for the "
                "retention period set in the configuration."
            )
        ),
        button=str(words.get("remove_button") or _("Remove the site")),
        danger=True,
    )


@staff_required
def service_settings(request: HttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    if service.kind in CLOUD_KINDS:
        return cloud_settings(request, service, _name(service))
    current = dict(service.spec or {})
    form = ServiceSettingsForm(
        request.POST or None, kind=service.kind, initial=ServiceSettingsForm.initial_for(current)
    )
    if request.method == "POST" and form.is_valid():
        spec = form.spec(current)
        located = locate_spec_errors(driver_for(service.kind), spec)
        if located:
            form.attach_spec_errors(located)
        else:
            try:
                actions.update_service_spec(service, actor=request.user, spec=spec)
            except ValidationError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("Changes saved. They take effect at the next apply."))
                return redirect("services:detail", pk=service.pk)
    return render(
        request,
        "services/settings.html",
        {
            "form": form,
            "service": service,
            "domain": shown_domain(service.domain),
            "main_fields": [form["aliases"]],
            **_limit_fields(form),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@staff_required
def service_send_credentials(request: HttpRequest, pk: int) -> HttpResponse:
    """A new password, set on the site and sent to the chosen contact as a one-time link (a
    background job: the job's page follows it)."""
    service = _service(pk)
    form = SendCredentialsForm(request.POST, member=service.member)
    if not form.is_valid():
        messages.error(request, _("Choose one of the member's contacts."))
        return redirect("services:detail", pk=service.pk)
    try:
        job = handover.send_new_credentials(service, actor=request.user, recipient=form.recipient())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("services:detail", pk=service.pk)
    messages.success(
        request,
        _("New credentials are being made and sent to %(email)s. This page follows the job.")
        % {"email": form.recipient()},
    )
    return redirect("jobs:detail", pk=job.pk)


@require_POST
@staff_required
def service_apply(request: HttpRequest, pk: int) -> HttpResponse:
    service = _service(pk)
    run = start_apply(actor=request.user, member=service.member.number)
    messages.success(request, _("The changes are being applied. This page follows the run."))
    return redirect("reconcile:run", pk=run.pk)
