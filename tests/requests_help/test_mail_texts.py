"""Every message of the requests and help parts has a French and an English text that
compiles and renders with the variables it declares."""

from __future__ import annotations

import pytest

from ronron.core import mail

pytestmark = pytest.mark.django_db

KEYS = [
    "requests.decided",
    "requests.ready",
    "requests.new_request",
    "help.new_request",
    "help.member_replied",
    "help.answered",
]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_message_renders_in_both_languages(key, language):
    kind = mail.load_kinds()[key]
    context = {name: f"VALUE-OF-{name}" for name in kind.variables}
    subject, body = mail.render(key, context, language)
    assert subject and "\n" not in subject
    # The link to follow, and what the message is about, are always there.
    link = (
        "requests_url"
        if key.startswith("requests.") and key != "requests.new_request"
        else ("request_url")
    )
    assert f"VALUE-OF-{link}" in body
    about = "service_title" if key.startswith("requests.") else "subject"
    assert f"VALUE-OF-{about}" in subject
