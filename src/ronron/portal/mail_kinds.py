"""The portal's messages, registered with core.mail (one module per part)."""

from ronron.portal import mail_kinds_access, mail_kinds_help, mail_kinds_requests  # noqa: F401
