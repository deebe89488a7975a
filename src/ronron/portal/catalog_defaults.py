"""The catalog's default entries: what each kind of service is, in words a member reads."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

# The catalog a hoster starts from: one entry per kind Ronron provisions. The texts are
# translated when the entries are created (French by default) and then edited freely.
DEFAULT_OFFERS: dict[str, dict[str, Any]] = {
    "static": {
        "title": gettext_lazy("Simple web site"),
        "description": gettext_lazy(
            "A web site made of pages you prepare yourself (HTML, images, documents) and send "
            "to the server. Fast, sturdy and without updates to follow: ideal to present your "
            "association. Give the address you want it to have (your domain name)."
        ),
        "needs_approval": False,
    },
    "cloud": {
        "title": gettext_lazy("Cloud space"),
        "description": gettext_lazy(
            "Files, calendars and contacts shared by your association on our Nextcloud: one "
            "account for each person who needs one, a storage space shared among them, and the "
            "apps you choose (Deck, OnlyOffice…). Each person receives their credentials by a "
            "link that opens only once."
        ),
        "needs_approval": True,
    },
    "wordpress": {
        "title": gettext_lazy("WordPress site"),
        "description": gettext_lazy(
            "A web site you write in your browser, with pages, news and pictures, without "
            "knowing any code. We install WordPress, keep it up to date and back it up; you "
            "receive the administrator's login by a link that can be opened only once."
        ),
        "needs_approval": True,
    },
    "list": {
        "title": gettext_lazy("Mailing list"),
        "description": gettext_lazy(
            "An e-mail address that forwards messages to all its subscribers: to write to "
            "your members, your board or a working group. Subscribers may follow your member "
            "file automatically. Give the list's address and its owners."
        ),
        "needs_approval": True,
    },
}
