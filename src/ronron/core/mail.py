"""Every message Ronron sends to people (welcome, invitations, dues calls and reminders,
departures, help answers, credentials links, monitoring alerts…) goes through :func:`send`: one
SMTP configuration (the ``[email]`` table), the hoster's language by default (French), and
texts admins can edit (the console's ``/mail/`` pages).

A message kind is registered once with :func:`register`, in a module ``<app>/mail_kinds.py``
(imported by :func:`load_kinds`). Its built-in text lives in
``<app>/templates/mail/<key>.<language>.txt``: the first line is ``Subject: …``, then a blank
line, then the body; both are Django templates rendered without HTML escaping, in the
message's language (so ``|date`` writes French dates in a French message). An admin's version
(``MailTemplate``) replaces the built-in one for its language; :func:`save_template` and
:func:`reset_template` are the actions that change it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext as _

from ronron.core import audit
from ronron.core.validators import validate_email

log = logging.getLogger(__name__)

SEND_TIMEOUT = 20
LANGUAGES = ("fr", "en")
MAX_SUBJECT = 200

# Texts are rendered by a bare engine: no autoescape (plain text mail), no custom tags.
_ENGINE = Engine(
    autoescape=False,
    libraries={},
    builtins=["django.template.defaulttags", "django.template.defaultfilters"],
)


class MailFailed(Exception):
    """The message could not be handed to the mail server."""


@dataclass(frozen=True)
class MessageKind:
    key: str
    label: Any  # lazy translation: what the editor calls it
    # Variables the text may use, with what each one holds (shown in the editor).
    variables: dict[str, Any] = field(default_factory=dict)
    # Made-up values of those variables for the editor's preview: a dict, or a function of
    # the language returning one (a sample sentence reads better in the text's language).
    sample: dict[str, Any] | Callable[[str], dict[str, Any]] = field(default_factory=dict)


KINDS: dict[str, MessageKind] = {}


def register(
    key: str,
    label: Any,
    variables: dict[str, Any] | None = None,
    *,
    sample: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
) -> MessageKind:
    kind = MessageKind(
        key=key,
        label=label,
        variables=dict(variables or {}),
        sample=sample if callable(sample) else dict(sample or {}),
    )
    KINDS[key] = kind
    return kind


def load_kinds() -> dict[str, MessageKind]:
    """Every registered kind: each Ronron app registers its own in ``<app>.mail_kinds``."""
    from importlib import import_module

    from django.apps import apps

    for app in apps.get_app_configs():
        if app.name.startswith("ronron."):
            try:
                import_module(f"{app.name}.mail_kinds")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app.name}.mail_kinds":
                    raise
    return KINDS


def language_or_default(language: str | None) -> str:
    return language if language in LANGUAGES else settings.RONRON.language


def builtin_text(key: str, language: str) -> tuple[str, str]:
    """The built-in (subject, body) sources of a message kind in a language."""
    # The source, not a rendering: an admin edits this text.
    source = get_template(f"mail/{key}.{language}.txt").template.source  # type: ignore[attr-defined]
    first, _sep, rest = source.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail/{key}.{language}.txt must start with 'Subject: '")
    return first.removeprefix("Subject:").strip(), rest.lstrip("\n")


def current_text(key: str, language: str) -> tuple[str, str]:
    """The admin's version if there is one, else the built-in text."""
    from ronron.core.models import MailTemplate

    custom = MailTemplate.objects.filter(key=key, language=language).first()
    if custom is not None:
        return custom.subject, custom.body
    return builtin_text(key, language)


def is_customised(key: str, language: str) -> bool:
    from ronron.core.models import MailTemplate

    return MailTemplate.objects.filter(key=key, language=language).exists()


def check_text(subject: str, body: str) -> None:
    """ValidationError (keyed by field) when a text does not compile or the subject holds a
    line break (it would become a header of its own)."""
    errors: dict[str, list[str]] = {}
    for name, source in (("subject", subject), ("body", body)):
        try:
            _ENGINE.from_string(source)
        except TemplateSyntaxError as exc:
            errors.setdefault(name, []).append(
                _("This text cannot be used: %(error)s") % {"error": exc}
            )
    if any(c in subject for c in "\r\n\x00"):
        errors.setdefault("subject", []).append(_("The subject must fit on one line."))
    if not subject.strip():
        errors.setdefault("subject", []).append(_("A message needs a subject."))
    elif len(subject) > MAX_SUBJECT:
        errors.setdefault("subject", []).append(
            _("A subject has at most %(size)d characters.") % {"size": MAX_SUBJECT}
        )
    if "\x00" in body:
        errors.setdefault("body", []).append(_("The text holds a forbidden character."))
    if errors:
        raise ValidationError(errors)


def render_text(
    subject_source: str, body_source: str, context: dict[str, Any], language: str
) -> tuple[str, str]:
    """(subject, body) from sources, in ``language`` (dates, numbers and ``pluralize``)."""
    full = {"hoster_name": settings.RONRON.hoster_name, **context}
    with translation.override(language):
        subject = _ENGINE.from_string(subject_source).render(Context(full, autoescape=False))
        body = _ENGINE.from_string(body_source).render(Context(full, autoescape=False))
    return " ".join(subject.split()), body.strip() + "\n"


def render(key: str, context: dict[str, Any], language: str | None = None) -> tuple[str, str]:
    language = language_or_default(language)
    subject_source, body_source = current_text(key, language)
    return render_text(subject_source, body_source, context, language)


def sample_context(key: str, language: str) -> dict[str, Any]:
    """The kind's sample values, and a visible placeholder for any variable without one."""
    kind = load_kinds()[key]
    values: dict[str, Any] = {name: f"[{name}]" for name in kind.variables}
    values.update(kind.sample(language) if callable(kind.sample) else kind.sample)
    return values


def _reply_to() -> list[str]:
    """Replies go to the hoster's own address when it has one (the sending one may read
    nothing)."""
    address = str(settings.RONRON.organization.get("email") or "")
    try:
        validate_email(address)
    except ValidationError:
        return []
    return [address]


def _describe(exc: BaseException) -> str:
    """A failure in a few words; SMTP replies and socket errors carry no secret."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def send(
    key: str,
    to: list[str],
    context: dict[str, Any],
    *,
    language: str | None = None,
    reply_to: list[str] | None = None,
    connection: Any = None,
) -> None:
    """Render the message ``key`` and send it to ``to``; MailFailed if the server refused it.
    The context may hold links with keys or tokens: it is never logged. ``connection`` lets a
    caller sending many messages at once (alerts) reuse one SMTP connection."""
    if key not in load_kinds():
        raise KeyError(f"unknown message kind {key!r}")
    for address in to:
        validate_email(address)
    subject, body = render(key, context, language)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=reply_to if reply_to is not None else _reply_to(),
    )
    try:
        message.connection = connection or get_connection(fail_silently=False, timeout=SEND_TIMEOUT)
        message.send()
    except Exception as exc:
        reason = _describe(exc)
        log.warning("message %s to %s not sent: %s", key, ", ".join(to), reason)
        raise MailFailed(reason) from None


def send_recorded(
    key: str,
    to: list[str],
    context: dict[str, Any],
    *,
    member_id: int | None = None,
    obj: Any = None,
    actor: Any = None,
    language: str | None = None,
    reply_to: list[str] | None = None,
) -> str | None:
    """:func:`send`, then an audit row saying it went (``mail.sent``) or why not
    (``mail.failed``): a failure is written down and shown, never lost. Returns the error, or
    None. Call it outside the transaction of the change it reports (after commit)."""
    error: str | None = None
    if not to:
        error = _("nobody to write to (no contact with an e-mail address)")
    else:
        try:
            send(key, to, context, language=language, reply_to=reply_to)
        except MailFailed as exc:
            error = str(exc)
    with transaction.atomic():
        audit.record(
            "mail.failed" if error else "mail.sent",
            actor=actor,
            obj=obj,
            member_id=member_id,
            object_type="" if obj is not None else "core.mail",
            object_repr="" if obj is not None else key,
            after={"message": key, "to": list(to), **({"error": error} if error else {})},
        )
    return error


# The actions that change the texts.


def _check_kind(key: str, language: str) -> None:
    if key not in load_kinds() or language not in LANGUAGES:
        raise KeyError(f"unknown message {key!r} in {language!r}")


@transaction.atomic
def save_template(key: str, language: str, *, subject: str, body: str, actor: Any) -> Any:
    """An admin's version of a message: checked, stored, audited (before/after texts)."""
    from ronron.core.models import MailTemplate

    _check_kind(key, language)
    body = body.replace("\r\n", "\n")
    check_text(subject, body)
    existing = MailTemplate.objects.select_for_update().filter(key=key, language=language).first()
    before = {"subject": existing.subject, "body": existing.body} if existing else None
    template = existing or MailTemplate(key=key, language=language)
    template.subject, template.body = subject.strip(), body
    template.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    template.save()
    audit.record(
        "mail_template.saved",
        actor=actor,
        obj=template,
        before=before,
        after={"subject": template.subject, "body": template.body},
    )
    return template


@transaction.atomic
def reset_template(key: str, language: str, *, actor: Any) -> bool:
    """Back to the built-in text: the admin's version is deleted (audited). False when there
    was none."""
    from ronron.core.models import MailTemplate

    _check_kind(key, language)
    existing = MailTemplate.objects.select_for_update().filter(key=key, language=language).first()
    if existing is None:
        return False
    audit.record(
        "mail_template.reset",
        actor=actor,
        obj=existing,
        before={"subject": existing.subject, "body": existing.body},
    )
    existing.delete()
    return True


@contextmanager
def one_connection() -> Iterator[Any]:
    """An opened SMTP connection for several :func:`send` calls; MailFailed if it cannot
    open."""
    connection = get_connection(fail_silently=False, timeout=SEND_TIMEOUT)
    try:
        connection.open()
    except Exception as exc:
        raise MailFailed(_describe(exc)) from None
    try:
        yield connection
    finally:
        try:
            connection.close()
        except Exception:
            log.debug("closing the mail connection failed", exc_info=True)
