"""The members' messages, registered with core.mail (one module per part)."""

from ronron.members import (  # noqa: F401
    mail_kinds_dues,
    mail_kinds_offboarding,
    mail_kinds_onboarding,
)
