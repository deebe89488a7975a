from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from ronron.core.bootstrap import announcement, ensure_first_admin


class Command(BaseCommand):
    help = _(
        "Create the first administrator account if there is no staff account yet, "
        "and print its password once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        admin = ensure_first_admin()
        if admin is None:
            self.stdout.write(_("An administrator account already exists: nothing to do."))
            return
        self.stdout.write(announcement(admin))
