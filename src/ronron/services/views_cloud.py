"""The console's cloud pages: a cloud space or a work group asked for and changed (their parts of
the service pages), and ``/cloud/``: the licences of apps bought by the seat and every live
space with its accounts and storage. What a space holds is read from its spec (the truth) and
from the facts its last observation recorded (``drivers/nextcloud/space.py``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.permissions import staff_required
from ronron.drivers.base import driver_for
from ronron.drivers.nextcloud.licences import check_licences, licence_use
from ronron.drivers.nextcloud.spec import APPS, shares
from ronron.services import actions, actions_cloud
from ronron.services.forms import locate_spec_errors
from ronron.services.forms_cloud import (
    CLOUD_FIELD_NAMES,
    CLOUD_FIELDS,
    WORK_GROUP_FIELDS,
    CloudSettingsForm,
    LicenceForm,
    LicenceRemoveForm,
)
from ronron.services.models import AppLicence, Service
from ronron.services.views_rosters import OUTCOMES, with_last_sync

# The columns the spaces of /cloud/ can be sorted by; the largest first for figures.
SORTS: dict[str, Any] = {
    "member": gettext_lazy("Member"),
    "server": gettext_lazy("Server"),
    "accounts": gettext_lazy("Accounts"),
    "used": gettext_lazy("Storage used"),
}

# What suspending and removing mean for a cloud service, in the words of its page.
STATE_WORDS: dict[str, dict[str, Any]] = {
    "cloud": {
        "suspend_text": gettext_lazy(
            "Every account of the space is disabled: nobody can log in, and nothing is "
            "deleted. Resuming the space enables them again, with their files."
        ),
        "suspend_button": gettext_lazy("Suspend the space"),
        "remove_text": gettext_lazy(
            "At the next apply, the accounts' files and the space's list of accounts are "
            "exported to an archive, the archive verified, and only then the accounts and the "
            "group deleted from Nextcloud. The archive is kept for the retention period set "
            "in the configuration."
        ),
        "remove_button": gettext_lazy("Remove the space"),
        "suspended": gettext_lazy("Recorded. The accounts will be disabled at the next apply."),
        "resumed": gettext_lazy("Recorded. The accounts will be enabled at the next apply."),
        "removed": gettext_lazy(
            "Recorded. The space will be archived, then removed, at the next apply."
        ),
    },
    "cloudgroup": {
        "suspend_text": gettext_lazy(
            "The group keeps its members and stops following its roster until it is resumed."
        ),
        "suspend_button": gettext_lazy("Suspend the work group"),
        "remove_text": gettext_lazy(
            "At the next apply, the list of the group's members is exported and verified, "
            "then the group is deleted from Nextcloud. Its members' accounts stay."
        ),
        "remove_button": gettext_lazy("Remove the work group"),
        "suspended": gettext_lazy(
            "Recorded. The group stops following its roster at the next apply."
        ),
        "resumed": gettext_lazy("Recorded. The group follows its roster again."),
        "removed": gettext_lazy(
            "Recorded. The group will be archived, then removed, at the next apply."
        ),
    },
}


def state_words(service: Service) -> dict[str, Any] | None:
    return STATE_WORDS.get(service.kind)


# --- what a space holds --------------------------------------------------------------------


def _percent(used: int | None, limit: int | None) -> int | None:
    if used is None or not limit:
        return None
    return min(100, round(100 * used / limit))


def usage_text(used: int | None, limit: int | None) -> str:
    """Space used against a limit, in words (the bar next to it says the same)."""
    if used is None:
        return _("not measured yet")
    if not limit:
        return _("%(used)s used (no limit)") % {"used": filesizeformat(used)}
    return _("%(used)s of %(limit)s used (%(percent)d %%)") % {
        "used": filesizeformat(used),
        "limit": filesizeformat(limit),
        "percent": _percent(used, limit) or 0,
    }


def space_summary(service: Service) -> dict[str, Any]:
    """A space's accounts, storage and apps: the spec's accounts, with what the last
    observation measured of each (an account not seen yet shows the quota it will get)."""
    spec = service.spec or {}
    facts = (service.observed or {}).get("facts") or {}
    accounts = spec.get("accounts", [])
    allowance = int(spec.get("allowance") or 0)
    seen = {u["id"].lower(): u for u in facts.get("usage", []) if isinstance(u, dict)}
    try:
        planned = shares(allowance, accounts) if accounts and allowance else {}
    except ValidationError:
        planned = {}
    rows = []
    for account in accounts:
        found = seen.get(account["id"].lower())
        quota = found.get("quota") if found else planned.get(account["id"])
        used = found.get("used") if found else None
        rows.append(
            {
                "id": account["id"],
                "name": account.get("name") or account["id"],
                "email": account.get("email", ""),
                "seen": found is not None,
                "enabled": bool(found.get("enabled")) if found else None,
                "used": used,
                "quota": quota,
                "percent": _percent(used, quota),
                "usage": usage_text(used, quota) if found else "",
                "quota_text": filesizeformat(quota) if quota else _("no limit"),
            }
        )
    used_total = facts.get("storage_used") if "storage_used" in facts else None
    return {
        "service": service,
        "accounts": rows,
        "account_count": len(rows),
        "allowance": allowance,
        "allowance_text": filesizeformat(allowance) if allowance else "—",
        "used": used_total,
        "percent": _percent(used_total, allowance),
        "usage": usage_text(used_total, allowance),
        "apps": [str(APPS.get(app, app)) for app in spec.get("apps", [])],
        "retired": list(spec.get("retired", [])),
        "observed": bool(facts),
    }


def group_summary(service: Service) -> dict[str, Any]:
    facts = (service.observed or {}).get("facts") or {}
    return {
        "name": (service.spec or {}).get("name") or service.member.name,
        "members": facts.get("members"),
    }


def cloud_panel(service: Service) -> dict[str, Any]:
    """What the service page shows of a cloud space or a work group."""
    if service.kind == "cloud":
        return {"cloud_space": space_summary(service)}
    if service.kind == "cloudgroup":
        return {"work_group": group_summary(service)}
    return {}


def cloud_observation(service: Service) -> list[tuple[Any, Any]]:
    """The parts a cloud driver observed, in words (the accounts are in their own table)."""
    parts = (service.observed or {}).get("parts") or {}
    if "group" not in parts:
        return []
    rows: list[tuple[Any, Any]] = [
        (_("Group on the cloud"), _("yes") if parts["group"] else _("no"))
    ]
    if service.kind == "cloud":
        on = [
            str(APPS.get(app, app)) for app, enabled in (parts.get("apps") or {}).items() if enabled
        ]
        rows.append((_("Apps enabled for the group"), ", ".join(on) or _("none")))
    return rows


# --- asking and changing -------------------------------------------------------------------


def _located(kind: str, spec: dict[str, Any]) -> dict[str, list[str]]:
    located = locate_spec_errors(driver_for(kind), spec)
    return {CLOUD_FIELD_NAMES.get(key, key): items for key, items in located.items()}


def _show_located(form: Any, located: dict[str, list[str]]) -> None:
    for field, items in located.items():
        for message in items:
            form.add_error(field if field in form.fields else None, message)


def _attach(form: Any, error: ValidationError) -> None:
    """An action's error next to its field; the rest (placement aside) on top of the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = CLOUD_FIELD_NAMES.get(field, field)
            for item in errors:
                form.add_error(target if target in form.fields else None, item)
        return
    for item in error.error_list:
        about_server = item.code in {"no_server", "no_room", "role"} and "server" in form.fields
        form.add_error("server" if about_server else None, item)


def create_cloud_service(request: HttpRequest, form: Any) -> Service | None:
    """The service a valid new-service form describes; None when an error is shown on it."""
    member = form.cleaned_data["member"]
    kind = form.cleaned_data["kind"]
    spec = form.spec(member)
    located = _located(kind, spec)
    if located:
        _show_located(form, located)
        return None
    try:
        if kind == "cloudgroup":
            return actions_cloud.request_work_group(
                member,
                actor=request.user,
                roster=form.cleaned_data["roster"],
                spec=spec,
                server=form.cleaned_data["server"],
            )
        return actions.request_service(
            member, actor=request.user, kind=kind, spec=spec, server=form.cleaned_data["server"]
        )
    except ValidationError as exc:
        _attach(form, exc)
        return None


def create_form_fields(form: Any) -> dict[str, Any]:
    return {
        "cloud_fields": [form[n] for n in CLOUD_FIELDS],
        "group_fields": [form[n] for n in WORK_GROUP_FIELDS],
    }


def cloud_settings(request: HttpRequest, service: Service, name: str) -> HttpResponse:
    """The settings page of a cloud space or a work group."""
    current = dict(service.spec or {})
    form = CloudSettingsForm(
        request.POST or None,
        kind=service.kind,
        initial=CloudSettingsForm.cloud_initial(service.kind, current),
    )
    if request.method == "POST" and form.is_valid():
        spec = form.spec(current)
        located = _located(service.kind, spec)
        if located:
            _show_located(form, located)
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
            "domain": name,
            "main_fields": [form[n] for n in form.fields],
            "cloud_settings": True,
        },
        status=400 if form.errors else 200,
    )


# --- /cloud/ -------------------------------------------------------------------------------


def _sorted_spaces(sort: str) -> list[dict[str, Any]]:
    spaces = Service.objects.filter(kind="cloud", managed=True, removed_at__isnull=True)
    rows = [space_summary(s) for s in spaces.select_related("member", "server")]
    keys: dict[str, Any] = {
        "member": lambda r: (r["service"].member.number, r["service"].pk),
        "server": lambda r: (
            r["service"].server.name if r["service"].server else "",
            r["service"].member.number,
        ),
        "accounts": lambda r: (-r["account_count"], r["service"].member.number),
        "used": lambda r: (-(r["used"] or 0), r["service"].member.number),
    }
    return sorted(rows, key=keys[sort])


def _work_groups() -> list[Service]:
    groups = Service.objects.filter(kind="cloudgroup", managed=True, removed_at__isnull=True)
    found = list(
        with_last_sync(groups.select_related("member", "server", "roster")).order_by(
            "member__number", "pk"
        )
    )
    for group in found:
        group.summary = group_summary(group)  # type: ignore[attr-defined]
    return found


def _index(request: HttpRequest, form: LicenceForm, *, status: int = 200) -> HttpResponse:
    sort = request.GET.get("sort", "member")
    if sort not in SORTS:
        sort = "member"
    return render(
        request,
        "services/cloud_index.html",
        {
            "licences": licence_use(),
            "form": form,
            "spaces": _sorted_spaces(sort),
            "sort": sort,
            "sorts": SORTS,
            "work_groups": _work_groups(),
            "outcomes": OUTCOMES,
        },
        status=status,
    )


@staff_required
def cloud_index(request: HttpRequest) -> HttpResponse:
    return _index(request, LicenceForm())


@require_POST
@staff_required
def licence_set(request: HttpRequest) -> HttpResponse:
    form = LicenceForm(request.POST)
    if form.is_valid():
        try:
            licence = actions_cloud.set_licence(
                actor=request.user,
                app=form.cleaned_data["app"],
                seats=form.cleaned_data["seats"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(
                request,
                _("Licence recorded: %(app)s, %(seats)d seats.")
                % {"app": APPS.get(licence.app, licence.app), "seats": licence.seats},
            )
            return redirect("cloud:index")
    return _index(request, form, status=400)


@require_POST
@staff_required
def licence_remove(request: HttpRequest) -> HttpResponse:
    form = LicenceRemoveForm(request.POST)
    licence = (
        AppLicence.objects.filter(app=form.cleaned_data["app"]).first() if form.is_valid() else None
    )
    if licence is None:
        messages.error(request, _("There is no licence for this app."))
    else:
        actions_cloud.remove_licence(licence, actor=request.user)
        messages.success(
            request,
            _("The licence of %(app)s is removed: any number of accounts may have it now.")
            % {"app": APPS.get(licence.app, licence.app)},
        )
    return redirect("cloud:index")


# --- service requests ----------------------------------------------------------------------


def waits_for_licence(kind: str, details: dict[str, Any]) -> str:
    """Why a requested cloud space cannot be created now for lack of licence seats ("" if it
    can): such a request stays waiting until seats are bought or freed."""
    if kind != "cloud":
        return ""
    try:
        check_licences(details or {})
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def request_details(details: dict[str, Any]) -> dict[str, Any]:
    """A cloud request's settings as a volunteer reads them (sizes, logins, app names); the
    settings of other kinds as they are."""
    shown = dict(details)
    if isinstance(shown.get("allowance"), int):
        shown["allowance"] = filesizeformat(shown["allowance"])
    if isinstance(shown.get("accounts"), list):
        shown["accounts"] = [
            f"{a.get('id', '')} <{a.get('email', '')}>" if isinstance(a, dict) else str(a)
            for a in shown["accounts"]
        ]
    if isinstance(shown.get("apps"), list):
        shown["apps"] = [str(APPS.get(app, app)) for app in shown["apps"]]
    return shown
