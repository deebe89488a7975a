"""Shared by the console tests: plain static files and a few members made through actions."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from ronron.members import actions
from ronron.members.models import Member

URL_ATTRIBUTE = re.compile(r"""\b(?:src|href|action|srcset)\s*=\s*["']([^"']+)["']""", re.I)


def make_member(actor: Any = None, **data: Any) -> Member:
    defaults: dict[str, Any] = {
        "kind": "association",
        "name": "Les Amis du Vélo",
        "postal_code": "31000",
        "city": "Toulouse",
        "joined_on": date(2020, 3, 1),
    }
    defaults.update(data)
    return actions.create_member(actor=actor, **defaults)


def foreign_urls(html: str, host: str = "testserver") -> list[str]:
    """URLs in src/href/action attributes that point to another host than ours."""
    found = []
    for url in URL_ATTRIBUTE.findall(html):
        lowered = url.strip().lower()
        ours = re.match(rf"^(?:https?:)?//{re.escape(host)}(?:[:/]|$)", lowered)
        if lowered.startswith(("//", "http://", "https://")) and not ours:
            found.append(url)
    return found
