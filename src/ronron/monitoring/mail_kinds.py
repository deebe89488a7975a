"""The monitoring's message, registered with core.mail."""

from datetime import UTC, datetime

from django.utils.translation import gettext_lazy as _

from ronron.core import mail


def _sample(language: str) -> dict[str, object]:
    at = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
    down = {
        "kind": "opened",
        "state": "En panne" if language == "fr" else "Down",
        "name": "velo.example.org",
        "target": "https://velo.example.org/",
        "at": at,
        "message": "HTTP 502",
        "member": "A0202",
    }
    back = {**down, "kind": "resolved", "name": "jardins.example.org", "message": ""}
    back["state"] = "Rétabli" if language == "fr" else "Back up"
    back["target"] = "https://jardins.example.org/"
    summary = (
        "1 vérification en panne, 1 rétablie" if language == "fr" else "1 check down, 1 back up"
    )
    return {
        "events": [down, back],
        "summary": summary,
        "opened": [down],
        "still_down": [],
        "back_up": [back],
    }


mail.register(
    "monitoring.alert",
    _("Monitoring alert (one or several checks)"),
    {
        "events": _(
            "every check in this message, in order; each has kind (opened, reminder or "
            "resolved), state (its label: Down, Still down, Back up), name, target, at (when), "
            "message (the last probe's) and member"
        ),
        "summary": _("what happened in a few words, for the subject (“3 checks down, 1 back up”)"),
        "opened": _("the checks that went down (same fields)"),
        "still_down": _("the checks still down (a reminder)"),
        "back_up": _("the checks back up"),
    },
    sample=_sample,
)
