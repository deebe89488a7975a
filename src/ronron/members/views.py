"""The member pages of the staff console. Views stay thin: forms validate, actions change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ronron.core.forms import attach_errors
from ronron.core.models import AuditEntry
from ronron.core.permissions import staff_required
from ronron.core.scoping import scope
from ronron.members import actions
from ronron.members.dues import annotate_dues_status, default_amount
from ronron.members.forms import (
    CallDuesForm,
    ContactForm,
    DateForm,
    MemberEditForm,
    MemberFilterForm,
    MemberForm,
    MembershipForm,
    PaymentForm,
    ThemeForm,
    ThemeRenameForm,
)
from ronron.members.models import Contact, Member, Membership, Theme

PAGE_SIZE = 50


def _members(request: HttpRequest) -> Any:
    return scope(Member.objects.all(), request.user)


def _member(request: HttpRequest, pk: int) -> Member:
    return get_object_or_404(_members(request), pk=pk)


@staff_required
def member_list(request: HttpRequest) -> HttpResponse:
    today = date.today()
    form = MemberFilterForm(request.GET or None)
    members = form.filter(_members(request), today)
    year = today.year
    if form.is_bound and form.is_valid() and form.cleaned_data["dues_year"]:
        year = form.cleaned_data["dues_year"]
    dues_of_year = annotate_dues_status(
        Membership.objects.filter(member=OuterRef("pk"), year=year), year, today
    )
    members = members.annotate(dues_status=Subquery(dues_of_year.values("dues_status")[:1]))
    paginator = Paginator(members.order_by("number"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "members/list.html",
        {
            "form": form,
            "page_obj": page,
            "members": page.object_list,
            "found": paginator.count,
            "total": _members(request).count(),
            "filtered": form.is_filtered(),
            "dues_year": year,
            "dues_labels": dict(Membership.Status.choices),
        },
    )


def _history(member: Member) -> Any:
    return AuditEntry.objects.filter(member_id=member.pk).select_related("actor")


TRANSITIONS: dict[str, list[str]] = {
    Member.Status.APPLIED: ["approve"],
    Member.Status.APPROVED: ["admit"],
    Member.Status.MEMBER: ["departure_notice", "departure"],
    Member.Status.LEAVING: ["departure"],
    Member.Status.LEFT: [],
}


@staff_required
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    memberships = list(member.memberships.all())
    today = date.today()
    for membership in memberships:
        membership.current_status = membership.status_on(today)  # type: ignore[attr-defined]
        membership.payment_form = PaymentForm(  # type: ignore[attr-defined]
            initial={"paid_on": today}, prefix=f"m{membership.pk}"
        )
    transitions = [
        (name, LIFECYCLE[name]["button"], DateForm(initial={"on": today}, prefix=name))
        for name in TRANSITIONS.get(member.status, [])
    ]
    for _name, _label, form in transitions:
        form.fields["on"].label = LIFECYCLE[_name]["label"]
    return render(
        request,
        "members/detail.html",
        {
            "member": member,
            "contacts": member.contacts.all(),
            "memberships": memberships,
            "services": member.services.filter(managed=False),
            "managed_services": member.services.filter(managed=True).select_related("server"),
            "history": _history(member),
            "transitions": transitions,
            "this_year": today.year,
        },
    )


def _form_page(
    request: HttpRequest,
    form: Any,
    *,
    title: str,
    member: Member | None = None,
    submit: str = "",
    template: str = "members/form.html",
) -> HttpResponse:
    return render(
        request,
        template,
        {"form": form, "title": title, "member": member, "submit": submit or _("Save")},
    )


def _try(form: Any, call: Callable[[], Any]) -> Any:
    """Run an action; on ValidationError show it on the form and return None."""
    try:
        return call()
    except ValidationError as exc:
        attach_errors(form, exc)
        return None


@staff_required
def member_create(request: HttpRequest) -> HttpResponse:
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        member = _try(form, lambda: actions.create_member(actor=request.user, **form.action_data()))
        if member is not None:
            messages.success(request, _("Member %(member)s created.") % {"member": member})
            return redirect("members:detail", pk=member.pk)
    return _form_page(request, form, title=_("New member"), submit=_("Create the member"))


@staff_required
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    form = MemberEditForm(request.POST or None, instance=member)
    if request.method == "POST" and form.is_valid():
        # The form's instance holds unsaved values now; the action reloads the row itself.
        done = _try(
            form, lambda: actions.update_member(member, actor=request.user, **form.action_data())
        )
        if done is not None:
            messages.success(request, _("Changes saved."))
            return redirect("members:detail", pk=member.pk)
    return _form_page(request, form, title=_("Edit %(member)s") % {"member": member}, member=member)


LIFECYCLE: dict[str, dict[str, Any]] = {
    "approve": {
        "action": lambda m, u, on: actions.approve_application(m, actor=u, on=on),
        "title": gettext_lazy("Approve the application"),
        "label": gettext_lazy("Approved by the board on"),
        "button": gettext_lazy("Approve the application"),
        "done": gettext_lazy("The application is approved."),
    },
    "admit": {
        "action": lambda m, u, on: actions.admit_member(m, actor=u, on=on),
        "title": gettext_lazy("Admit as a member"),
        "label": gettext_lazy("Member from"),
        "button": gettext_lazy("Admit as a member"),
        "done": gettext_lazy("Welcome: this is now a member."),
    },
    "departure_notice": {
        "action": lambda m, u, on: actions.record_departure_notice(m, actor=u, leave_on=on),
        "title": gettext_lazy("Record a notice of departure"),
        "label": gettext_lazy("Leaves on"),
        "button": gettext_lazy("Record a notice of departure"),
        "done": gettext_lazy("The notice of departure is recorded."),
    },
    "departure": {
        "action": lambda m, u, on: actions.record_departure(m, actor=u, on=on),
        "title": gettext_lazy("Record the departure"),
        "label": gettext_lazy("Left on"),
        "button": gettext_lazy("Record the departure"),
        "done": gettext_lazy("The departure is recorded."),
    },
}


def _lifecycle(name: str) -> Callable[..., HttpResponseBase]:
    step = LIFECYCLE[name]

    @staff_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        member = _member(request, pk)
        form = DateForm(request.POST or None, initial={"on": date.today()}, prefix=name)
        form.fields["on"].label = step["label"]
        if request.method == "POST" and form.is_valid():
            on = form.cleaned_data["on"]
            if _try(form, lambda: step["action"](member, request.user, on)) is not None:
                messages.success(request, str(step["done"]))
                return redirect("members:detail", pk=member.pk)
        return _form_page(
            request,
            form,
            title=f"{step['title']} — {member}",
            member=member,
            submit=str(step["button"]),
        )

    view.__name__ = f"member_{name}"
    return view


member_approve = _lifecycle("approve")
member_admit = _lifecycle("admit")
member_departure_notice = _lifecycle("departure_notice")
member_departure = _lifecycle("departure")


def _contact_data(form: ContactForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["roles"] = list(data.get("roles") or [])
    return data


@staff_required
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = _try(
            form,
            lambda: actions.add_contact(member, actor=request.user, **_contact_data(form)),
        )
        if done is not None:
            messages.success(request, _("Contact added."))
            return redirect("members:detail", pk=member.pk)
    return _form_page(
        request, form, title=_("New contact for %(member)s") % {"member": member}, member=member
    )


def _contact(request: HttpRequest, pk: int, contact_pk: int) -> tuple[Member, Contact]:
    member = _member(request, pk)
    return member, get_object_or_404(member.contacts.all(), pk=contact_pk)


@staff_required
def contact_edit(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    member, contact = _contact(request, pk, contact_pk)
    initial = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "roles": contact.role_list,
    }
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        done = _try(
            form,
            lambda: actions.update_contact(contact, actor=request.user, **_contact_data(form)),
        )
        if done is not None:
            messages.success(request, _("Contact saved."))
            return redirect("members:detail", pk=member.pk)
    return _form_page(
        request, form, title=_("Edit the contact %(name)s") % {"name": contact.name}, member=member
    )


@staff_required
def contact_remove(request: HttpRequest, pk: int, contact_pk: int) -> HttpResponse:
    member, contact = _contact(request, pk, contact_pk)
    if request.method == "POST":
        actions.remove_contact(contact, actor=request.user)
        messages.success(request, _("Contact %(name)s removed.") % {"name": contact.name})
        return redirect("members:detail", pk=member.pk)
    return render(request, "members/contact_remove.html", {"member": member, "contact": contact})


@staff_required
def membership_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    year = date.today().year
    taken = set(member.memberships.values_list("year", flat=True))
    while year in taken:
        year += 1
    initial = {"year": year, "amount": default_amount(member.kind, settings.RONRON.dues)}
    form = MembershipForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        done = _try(form, lambda: actions.create_membership(member, actor=request.user, **data))
        if done is not None:
            messages.success(request, _("Membership %(year)s added.") % {"year": data["year"]})
            return redirect("members:detail", pk=member.pk)
    return _form_page(
        request,
        form,
        title=_("New membership for %(member)s") % {"member": member},
        member=member,
    )


def _membership(request: HttpRequest, pk: int, membership_pk: int) -> tuple[Member, Membership]:
    member = _member(request, pk)
    return member, get_object_or_404(member.memberships.all(), pk=membership_pk)


@staff_required
def membership_edit(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    member, membership = _membership(request, pk, membership_pk)
    initial = {
        "year": membership.year,
        "amount": membership.amount,
        "called_on": membership.called_on,
        "paid_on": membership.paid_on,
        "payment_method": membership.payment_method,
    }
    form = MembershipForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        done = _try(form, lambda: actions.update_membership(membership, actor=request.user, **data))
        if done is not None:
            messages.success(request, _("Membership saved."))
            return redirect("members:detail", pk=member.pk)
    return _form_page(
        request,
        form,
        title=_("Membership %(year)s of %(member)s") % {"year": membership.year, "member": member},
        member=member,
    )


@staff_required
def payment(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    member, membership = _membership(request, pk, membership_pk)
    form = PaymentForm(
        request.POST or None, initial={"paid_on": date.today()}, prefix=f"m{membership.pk}"
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        done = _try(
            form,
            lambda: actions.record_payment(
                membership,
                actor=request.user,
                paid_on=data["paid_on"],
                method=data["method"],
                amount=data["amount"],
            ),
        )
        if done is not None:
            messages.success(
                request, _("Payment of the %(year)s dues recorded.") % {"year": membership.year}
            )
            if request.POST.get("back") == "dues":
                return redirect(f"{reverse('members:dues')}?year={membership.year}")
            return redirect(f"{reverse('members:detail', args=[member.pk])}#memberships")
    return _form_page(
        request,
        form,
        title=_("Record the payment of the %(year)s dues of %(member)s")
        % {"year": membership.year, "member": member},
        member=member,
        submit=_("Record the payment"),
    )


@require_POST
@staff_required
def call_dues(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    back_to_dues = request.POST.get("back") == "dues"
    form = CallDuesForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            _("The dues were not called: %(error)s")
            % {"error": " ".join(str(e) for e in form.errors.get("year", []))},
        )
        if back_to_dues:
            return redirect("members:dues")
        return redirect("members:detail", pk=member.pk)
    year = form.cleaned_data["year"]
    try:
        actions.call_dues(member, actor=request.user, year=year)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Dues %(year)s called for %(member)s.") % {"year": year, "member": member},
        )
    if back_to_dues:
        return redirect(f"{reverse('members:dues')}?year={year}")
    return redirect("members:detail", pk=member.pk)


@staff_required
def dues(request: HttpRequest) -> HttpResponse:
    today = date.today()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    year = min(max(year, 1901), 2999)
    status = request.GET.get("status", "")
    memberships = annotate_dues_status(
        scope(Membership.objects.filter(year=year), request.user), year, today
    ).select_related("member")
    totals = memberships.aggregate(
        count=Count("id"),
        called=Sum("amount", filter=~Q(dues_status="not_called")),
        paid=Sum("amount", filter=Q(dues_status="paid")),
        outstanding=Sum("amount", filter=Q(dues_status="called")),
        overdue=Sum("amount", filter=Q(dues_status="overdue")),
        cut_off=Sum("amount", filter=Q(dues_status="cut_off")),
    )
    for key, value in totals.items():
        if value is None:
            totals[key] = Decimal("0")
    counts = dict(
        memberships.values_list("dues_status")
        .annotate(n=Count("id"))
        .values_list("dues_status", "n")
    )
    if status in dict(Membership.Status.choices):
        memberships = memberships.filter(dues_status=status)
    start, end = date(year, 1, 1), date(year, 12, 31)
    missing = (
        _members(request)
        .filter(joined_on__lte=end)
        .filter(Q(left_on__isnull=True) | Q(left_on__gt=start))
        .filter(~Exists(Membership.objects.filter(member=OuterRef("pk"), year=year)))
        .order_by("number")
    )
    return render(
        request,
        "members/dues.html",
        {
            "year": year,
            "years": [year - 1, year + 1],
            "memberships": memberships.order_by("member__number"),
            "totals": totals,
            "counts": [
                {"value": v, "label": label, "count": counts.get(v, 0)}
                for v, label in Membership.Status.choices
            ],
            "status": status,
            "dues_labels": dict(Membership.Status.choices),
            "missing": missing,
            "calendar": {
                "call": settings.RONRON.dues.call_date(year),
                "reminder": settings.RONRON.dues.reminder_date(year),
                "cutoff": settings.RONRON.dues.cutoff_date(year),
            },
        },
    )


@staff_required
def themes(request: HttpRequest) -> HttpResponse:
    form = ThemeForm(request.POST or None, prefix="new")
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        slug = form.cleaned_data["slug"] or slugify(name)[:50]
        theme = _try(form, lambda: actions.create_theme(actor=request.user, slug=slug, name=name))
        if theme is not None:
            messages.success(request, _("Theme “%(name)s” added.") % {"name": theme.name})
            return redirect("members:themes")
    rows = [
        (theme, ThemeRenameForm(initial={"name": theme.name}, prefix=f"t{theme.pk}"))
        for theme in Theme.objects.annotate(members=Count("member"))
    ]
    return render(request, "members/themes.html", {"form": form, "rows": rows})


@staff_required
def theme_rename(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(Theme, pk=pk)
    form = ThemeRenameForm(request.POST or None, initial={"name": theme.name}, prefix=f"t{pk}")
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        if _try(form, lambda: actions.rename_theme(theme, actor=request.user, name=name)):
            messages.success(request, _("Theme renamed."))
            return redirect("members:themes")
    return _form_page(
        request,
        form,
        title=_("Rename the theme “%(name)s”") % {"name": theme.name},
        submit=_("Rename"),
    )


@staff_required
def theme_delete(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_object_or_404(Theme.objects.annotate(members=Count("member")), pk=pk)
    if request.method == "POST":
        actions.delete_theme(theme, actor=request.user)
        messages.success(request, _("Theme “%(name)s” deleted.") % {"name": theme.name})
        return redirect("members:themes")
    return render(request, "members/theme_delete.html", {"theme": theme})
