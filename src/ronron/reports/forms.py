from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ronron.config import ConfigError, parse_home_commune
from ronron.core.forms import ConsoleFormMixin
from ronron.reports.figures import ReportError, home_commune


def default_year() -> int:
    """The general assembly meets in spring about the year that has just ended."""
    return timezone.localdate().year - 1


class ReportForm(ConsoleFormMixin, forms.Form):
    year = forms.IntegerField(
        label=gettext_lazy("Year"),
        min_value=1901,
        max_value=9999,
        error_messages={"invalid": gettext_lazy("Enter a year, such as 2025.")},
    )
    home_commune = forms.CharField(
        label=gettext_lazy("Home commune"),
        required=False,
        max_length=120,
        help_text=gettext_lazy(
            "Postal code then name, such as « 31520 Ramonville-Saint-Agne »: its associations "
            "are counted apart from the rest of the région. Leave empty for none."
        ),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)

    @classmethod
    def initial_values(cls, language: str) -> dict[str, Any]:
        home = settings.RONRON.home_commune
        return {
            "year": default_year(),
            "home_commune": " ".join(home) if home else "",
            "language": language,
        }

    def clean_home_commune(self) -> tuple[str, str] | None:
        value = self.cleaned_data["home_commune"]
        try:
            parsed = parse_home_commune(value, "home_commune")
            home_commune(parsed)
        except ConfigError as exc:
            raise forms.ValidationError(
                _("Write the postal code then the name, such as « 31520 Ramonville-Saint-Agne ».")
            ) from exc
        except ReportError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return parsed
