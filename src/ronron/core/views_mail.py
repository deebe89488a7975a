"""The console's message editor: every kind of message Ronron sends, its text per language,
a preview with made-up values, and the way back to the built-in text. Staff only; the
changes go through core.mail's actions (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ronron.core import mail
from ronron.core.forms import ConsoleFormMixin
from ronron.core.models import MailTemplate
from ronron.core.permissions import staff_required

LANGUAGE_NAMES = {"fr": gettext_lazy("French"), "en": gettext_lazy("English")}


class MailTextForm(ConsoleFormMixin, forms.Form):
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=mail.MAX_SUBJECT,
        strip=False,
        widget=forms.TextInput(attrs={"class": "input--wide"}),
    )
    body = forms.CharField(
        label=gettext_lazy("Text"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 20, "cols": 80, "spellcheck": "true"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "subject" in data and "body" in data:
            try:
                mail.check_text(data["subject"], data["body"].replace("\r\n", "\n"))
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    for error in errors:
                        self.add_error(name if name in self.fields else None, error)
        return data


def _kind(key: str, language: str) -> mail.MessageKind:
    kind = mail.load_kinds().get(key)
    if kind is None or language not in mail.LANGUAGES:
        raise Http404
    return kind


@staff_required
def mail_list(request: HttpRequest) -> HttpResponse:
    customised = set(MailTemplate.objects.values_list("key", "language"))
    rows = [
        {
            "kind": kind,
            "languages": [
                {
                    "code": code,
                    "name": LANGUAGE_NAMES[code],
                    "customised": (kind.key, code) in customised,
                }
                for code in mail.LANGUAGES
            ],
        }
        for kind in sorted(mail.load_kinds().values(), key=lambda k: k.key)
    ]
    return render(request, "mail_editor/list.html", {"rows": rows})


def _preview(subject: str, body: str, key: str, language: str) -> dict[str, str]:
    try:
        rendered_subject, rendered_body = mail.render_text(
            subject, body, mail.sample_context(key, language), language
        )
    except Exception as exc:
        return {"error": str(exc)}
    return {"subject": rendered_subject, "body": rendered_body}


@staff_required
@require_http_methods(["GET", "POST"])
def mail_edit(request: HttpRequest, key: str, language: str) -> HttpResponse:
    kind = _kind(key, language)
    customised = mail.is_customised(key, language)
    if request.method == "POST":
        form = MailTextForm(request.POST)
        if form.is_valid():
            subject, body = form.cleaned_data["subject"], form.cleaned_data["body"]
            if "save" in request.POST:
                mail.save_template(key, language, subject=subject, body=body, actor=request.user)
                messages.success(request, _("The message was saved."))
                return redirect("mail:edit", key=key, language=language)
            preview = _preview(subject, body, key, language)
        else:
            preview = None
    else:
        subject, body = mail.current_text(key, language)
        form = MailTextForm(initial={"subject": subject, "body": body})
        preview = _preview(subject, body, key, language)
    return render(
        request,
        "mail_editor/edit.html",
        {
            "kind": kind,
            "language": language,
            "language_name": LANGUAGE_NAMES[language],
            "others": [
                {"code": code, "name": LANGUAGE_NAMES[code]}
                for code in mail.LANGUAGES
                if code != language
            ],
            "customised": customised,
            "form": form,
            "preview": preview,
            "variables": sorted(kind.variables.items()),
        },
    )


@staff_required
@require_POST
def mail_reset(request: HttpRequest, key: str, language: str) -> HttpResponse:
    _kind(key, language)
    if mail.reset_template(key, language, actor=request.user):
        messages.success(request, _("The message is back to its built-in text."))
    return redirect("mail:edit", key=key, language=language)
