"""The ``ronron`` command: Django's management commands under Ronron's own name.

``ronron migrate``, ``ronron members import FILE``, ``ronron demo``, ``ronron serve``… are
management commands of Ronron's apps; this entry point only selects the settings.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ronron.settings")
    from django.core.management import execute_from_command_line

    from ronron.config import ConfigError

    args = sys.argv[1:] if argv is None else argv
    if args and not args[0].startswith("-"):
        # Command modules cannot hold dashes: `ronron otp-reset` is the `otp_reset` command.
        args = [args[0].replace("-", "_"), *args[1:]]
    try:
        execute_from_command_line(["ronron", *args])
    except ConfigError as exc:
        sys.stderr.write(f"ronron: configuration error: {exc}\n")
        sys.exit(2)
