"""Every onboarding message exists in French and English and uses only the variables it
declares to the mail editor."""

from __future__ import annotations

import re

import pytest

from ronron.core import mail

pytestmark = pytest.mark.django_db  # an admin's version of a text would come from there

KEYS = [
    "onboarding.application_received",
    "onboarding.application_notice",
    "onboarding.decision_approved",
    "onboarding.decision_refused",
    "onboarding.welcome",
]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_each_message_renders_with_its_declared_variables(key, language):
    kind = mail.load_kinds()[key]
    subject, body = mail.builtin_text(key, language)
    used = set(re.findall(r"{{\s*([a-z_]+)", subject + body)) | set(
        re.findall(r"{%\s*(?:if|for \w+ in)\s+([a-z_]+)", body)
    )
    assert used - {"hoster_name", "service"} <= set(kind.variables)
    context = {name: f"<{name}>" for name in kind.variables}
    context["services"] = [{"title": "Site WordPress", "address": "café.fr"}]
    rendered_subject, rendered_body = mail.render(key, context, language)
    assert rendered_subject and "\n" not in rendered_subject
    assert "café.fr" in rendered_body or key == "onboarding.decision_refused"
