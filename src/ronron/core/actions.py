"""Changes to a staff account's second factor, audited like every other change.

The TOTP secret itself never reaches the audit trail: entries say which account and device,
not the key.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from ronron.core import audit

DEVICE_NAME = "default"


def _device_state(device: TOTPDevice) -> dict[str, Any]:
    return {
        "user": device.user.get_username(),
        "device": device.name,
        "confirmed": device.confirmed,
    }


@transaction.atomic
def confirm_totp_device(user: Any, *, actor: Any, key: str, token: str) -> TOTPDevice:
    """Register the authenticator app whose secret is ``key``, proven by a first valid code."""
    device = TOTPDevice(user=user, name=DEVICE_NAME, key=key, confirmed=True)
    device.full_clean()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit() or not totp.verify(int(token), tolerance=device.tolerance):
        raise ValidationError(
            {
                "token": _(
                    "This code is not the right one. Codes change every 30 seconds: type the "
                    "one your app shows now, and check that your phone is on time."
                )
            },
            code="invalid_token",
        )
    # Remember the step just used so that the same code cannot log in a second time.
    device.last_t = totp.t()
    device.drift = totp.drift
    TOTPDevice.objects.filter(user=user).delete()
    device.save()
    audit.record(
        "account.totp_confirmed",
        actor=actor,
        obj=device,
        object_repr=user.get_username(),
        after=_device_state(device),
    )
    return device


@transaction.atomic
def remove_totp_device(device: TOTPDevice, *, actor: Any) -> None:
    audit.record(
        "account.totp_removed",
        actor=actor,
        obj=device,
        object_repr=device.user.get_username(),
        before=_device_state(device),
    )
    device.delete()


@transaction.atomic
def reset_second_factor(user: Any, *, actor: Any) -> int:
    """Turn two-step login off for ``user`` (a lost phone): remove every TOTP device.

    Returns how many devices were removed; nothing is recorded when there was none. The user
    sets a new app up at the next login.
    """
    devices = list(TOTPDevice.objects.select_for_update().filter(user=user).order_by("pk"))
    if not devices:
        return 0
    audit.record(
        "account.totp_reset",
        actor=actor,
        obj=user,
        object_repr=user.get_username(),
        before={"user": user.get_username(), "devices": [_device_state(d) for d in devices]},
    )
    TOTPDevice.objects.filter(pk__in=[d.pk for d in devices]).delete()
    return len(devices)
