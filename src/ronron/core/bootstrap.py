"""The first administrator account, created on the first start of a fresh installation.

Without it nobody could log in to a new Ronron: ``ronron serve`` (and ``ronron createadmin``)
create it when no staff account exists, with a random password that is shown once and kept
nowhere but in its hashed form.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext

from ronron.core import audit

FIRST_ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class FirstAdmin:
    username: str
    # Only in memory, for the one message that shows it; never written to a log or a file.
    password: str

    def __repr__(self) -> str:
        return f"FirstAdmin(username={self.username!r}, password=<hidden>)"


def _free_username() -> str:
    """``admin``, or ``admin-2``… when a non-staff account already took that name."""
    user_model = get_user_model()
    taken = set(
        user_model.objects.filter(username__startswith=FIRST_ADMIN_USERNAME).values_list(
            "username", flat=True
        )
    )
    candidate = FIRST_ADMIN_USERNAME
    suffix = 1
    while candidate in taken:
        suffix += 1
        candidate = f"{FIRST_ADMIN_USERNAME}-{suffix}"
    return candidate


def ensure_first_admin() -> FirstAdmin | None:
    """Create the first administrator if no staff account exists; return it, else ``None``.

    Idempotent: once any staff account exists (this one or one made by hand), it does nothing,
    so the password is shown on the very first start only.
    """
    user_model = get_user_model()
    with transaction.atomic():
        if user_model.objects.filter(is_staff=True).exists():
            return None
        username = _free_username()
        # 20 random bytes: about 160 bits, well beyond guessing, still typeable once.
        password = secrets.token_urlsafe(20)
        user = user_model.objects.create_superuser(username=username, email="", password=password)
        audit.record(
            "core.admin_bootstrapped",
            actor=None,
            obj=user,
            after={"username": username, "is_staff": True, "is_superuser": True},
        )
    return FirstAdmin(username=username, password=password)


def announcement(admin: FirstAdmin) -> str:
    """The one line that shows the first administrator's password."""
    return gettext(
        "First administrator account: %(username)s / %(password)s"
        " — write it down, it will not be shown again."
    ) % {"username": admin.username, "password": admin.password}
