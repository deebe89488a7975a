"""One-time secrets in a real browser against a real `ronron serve`: write a secret, open its
link, reveal it once; the passphrase, the incomplete link, the language switch; and the page's
JavaScript and Ronron's Python reading each other's secrets."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ronron.secrets import envelope
from tests.secret_links.test_cli import run_with_terminal
from tests.serving import REPO_ROOT, Served, clean_env, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A name that resolves to the server but is not a secure context (plain http, not loopback).
INSECURE_HOST = "secrets.test"
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
TEXT = "Mot de passe : Été-2026 ✓ 🐈‍⬛\nidentifiant : trésorière\n\n  « fin »  "
LINK = re.compile(r"/secret/([A-Za-z0-9_-]{22})/#([A-Za-z0-9_-]{43})$")


@dataclass
class Site:
    served: Served
    env: dict[str, str]
    data_dir: Path

    def link(self, link: str) -> tuple[str, str, str]:
        """(path, id, key) of a link to this site."""
        assert link.startswith(self.served.base + "/secret/"), link
        match = LINK.search(link)
        assert match, link
        secret_id, key = match.groups()
        return f"/secret/{secret_id}/", secret_id, key

    def rows(self) -> list[dict[str, Any]]:
        with contextlib.closing(sqlite3.connect(self.data_dir / "ronron.sqlite3")) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM secrets_secret")]

    def row(self, secret_id: str) -> dict[str, Any] | None:
        lookup = hashlib.sha256(secret_id.encode()).hexdigest()
        found = [row for row in self.rows() if row["lookup"] == lookup]
        return found[0] if found else None

    def sealed(self, secret_id: str) -> envelope.Sealed:
        row = self.row(secret_id)
        assert row is not None
        return envelope.Sealed(
            ciphertext=row["ciphertext"],
            iv=row["iv"],
            salt=row["salt"],
            iterations=row["iterations"],
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for the module: starting one takes seconds. Always SQLite, read directly."""
    root = tmp_path_factory.mktemp("secrets")
    env = clean_env(
        root / "data",
        PYTHONPATH=str(REPO_ROOT),
        RONRON_ALLOWED_HOSTS=f"127.0.0.1,localhost,{INSECURE_HOST}",
    )
    served = Served(env, cwd=root)
    try:
        served.wait_until_up("/secret/")
        yield Site(served=served, env=env, data_dir=root / "data")
    except BaseException:
        served.kill()
        raise
    finally:
        if served.process.poll() is None:
            served.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
            ],
        )
        yield launched
        launched.close()


@dataclass
class Watch:
    """What a browser context did: its requests, console messages and script errors."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def posts_to(self, path: str) -> int:
        return sum(1 for method, url in self.requests if method == "POST" and url.endswith(path))

    def assert_clean(self) -> None:
        assert not self.errors, self.errors
        policy = [
            line
            for line in self.console
            if re.search(r"Content Security Policy|Trusted Type|Refused to", line, re.I)
        ]
        assert not policy, policy


@pytest.fixture
def open_context(browser: Any) -> Iterator[Callable[..., tuple[Any, Watch]]]:
    """Make a fresh browser context (its own cookies, storage, language); returns a page in it
    and what it watches."""
    opened: list[Any] = []

    def open_one(locale: str = "fr-FR", **options: Any) -> tuple[Any, Watch]:
        context = browser.new_context(locale=locale, **options)
        watch = Watch()
        context.on("request", lambda r: watch.requests.append((r.method, r.url)))
        context.on("console", lambda m: watch.console.append(f"{m.type}: {m.text}"))
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.set_default_timeout(30_000)
        opened.append(context)
        return page, watch

    yield open_one
    for context in opened:
        context.close()


def create(page: Any, site: Site, text: str, *, passphrase: str = "") -> str:
    """Write a secret on /secret/ as a person does; returns the link the page gives."""
    page.goto(site.served.base + "/secret/")
    page.fill("#secret-text", text)
    if passphrase:
        page.fill("#secret-passphrase", passphrase)
    page.click("#secret-submit")
    page.locator("#secret-result").wait_for(state="visible")
    link = page.input_value("#secret-link")
    # What was typed is no longer in the page.
    assert page.input_value("#secret-text") == ""
    assert page.input_value("#secret-passphrase") == ""
    return str(link)


def reveal(page: Any, *, passphrase: str = "") -> str:
    if passphrase:
        page.fill("#secret-passphrase", passphrase)
    page.click("#secret-submit")
    page.locator("#secret-result").wait_for(state="visible")
    return str(page.locator("#secret-revealed").text_content())


def encodings(data: bytes) -> list[str]:
    return [
        base64.b64encode(data).decode().rstrip("="),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
        data.hex(),
    ]


def post_with_csrf(page: Any, url: str) -> int:
    """A POST with the context's CSRF cookie, as a script replaying the page's request would."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(url, headers={"X-CSRFToken": token})
    return int(response.status)


def test_create_open_reveal_once(site: Site, open_context) -> None:
    writer, writer_watch = open_context()
    rows_before = len(site.rows())
    link = create(writer, site, TEXT)
    path, secret_id, key = site.link(link)

    # Stored: ciphertext only. Neither the text (in any usual encoding) nor the key.
    row = site.row(secret_id)
    assert row is not None and row["origin"] == "page" and row["salt"] == ""
    stored = " ".join(str(value) for value in row.values())
    plain = TEXT.encode()
    needles = [
        TEXT,
        "trésorière",
        key,
        *encodings(plain),
        *encodings(base64.urlsafe_b64decode(key + "=")),
    ]
    for needle in needles:
        assert needle not in stored

    # Not in the database's files either, whatever their layout (the WAL included).
    for stored_file in site.data_dir.glob("ronron.sqlite3*"):
        raw = stored_file.read_bytes()
        assert plain not in raw and key.encode() not in raw

    reader, reader_watch = open_context(permissions=["clipboard-read", "clipboard-write"])
    response = reader.goto(link)
    assert response.status == 200
    assert reader.locator("#secret-form").is_visible()
    # A second person opened the link too, and will press the button too late.
    late, late_watch = open_context()
    late.goto(link)
    # Link previews and mail scanners fetch the page: that changes nothing.
    for _ in range(2):
        assert site.served.get(link.split("#")[0].removeprefix(site.served.base)) == 200
    assert site.row(secret_id) is not None
    assert reader_watch.posts_to(path) == 0

    assert reveal(reader) == TEXT
    assert reader.locator("#secret-intro").is_hidden()
    reader.click("[data-copies='secret-revealed']")
    reader.locator("[data-copy-status='secret-revealed']").filter(
        has_text=re.compile(".")
    ).wait_for()
    assert reader.evaluate("navigator.clipboard.readText()") == TEXT
    # The key leaves the address bar once the secret is out.
    assert "#" not in reader.url
    assert site.row(secret_id) is None
    assert len(site.rows()) == rows_before

    # Neither the text nor the key went through the server's output (its access log included).
    assert wait_for(lambda: path in site.served.output, 10)
    for needle in needles:
        assert needle not in site.served.output

    # Once revealed, it is gone: opening the link again says so, and a replayed POST gets 410.
    again = reader.reload()
    assert again.status == 404
    assert reader.locator("#secret-gone").is_visible()
    assert reader.locator("#secret-form").count() == 0
    assert reader.locator("#secret-gone a[href='/secret/']").is_visible()
    other, _other_watch = open_context()
    other.goto(link)
    assert other.locator("#secret-gone").is_visible()
    assert post_with_csrf(reader, site.served.base + path) == 410
    late.click("#secret-submit")
    late.locator("#secret-gone").wait_for(state="visible")
    assert late.locator("#secret-intro").is_hidden()
    assert late.locator("#secret-result").is_hidden()

    for watch in (writer_watch, reader_watch, late_watch):
        watch.assert_clean()


def test_wrong_passphrase_then_the_right_one(site: Site, open_context) -> None:
    writer, _writer_watch = open_context()
    link = create(writer, site, TEXT, passphrase="cheval correct agrafe")
    path, secret_id, _key = site.link(link)
    row = site.row(secret_id)
    assert row is not None
    assert row["salt"] and row["iterations"] == envelope.ITERATIONS
    assert "cheval" not in " ".join(str(value) for value in row.values())

    reader, watch = open_context()
    reader.goto(link)
    # No passphrase typed: said next to the field, and nothing asked of the server.
    reader.click("#secret-submit")
    assert reader.locator("#secret-passphrase-error p").is_visible()
    assert watch.posts_to(path) == 0
    assert site.row(secret_id) is not None

    reader.fill("#secret-passphrase", "cheval incorrect")
    reader.click("#secret-submit")
    error = reader.locator("#secret-passphrase-error p")
    error.wait_for(state="visible")
    assert reader.get_attribute("#secret-passphrase", "aria-invalid") == "true"
    assert reader.locator("#secret-result").is_hidden()
    # The server handed the ciphertext over once: it is gone from storage, retries are local.
    assert site.row(secret_id) is None
    assert watch.posts_to(path) == 1

    assert reveal(reader, passphrase="cheval correct agrafe") == TEXT
    assert watch.posts_to(path) == 1
    assert site.row(secret_id) is None
    watch.assert_clean()


def test_an_incomplete_link_reveals_nothing(site: Site, open_context) -> None:
    writer, _writer_watch = open_context()
    link = create(writer, site, TEXT)
    path, secret_id, _key = site.link(link)

    reader, watch = open_context()
    for damaged in (link.split("#")[0], link.split("#")[0] + "#", link[:-5]):
        reader.goto(damaged)
        assert reader.locator("#secret-incomplete").is_visible()
        assert reader.locator("#secret-form").is_hidden()
    reader.wait_for_timeout(300)
    assert watch.posts_to(path) == 0
    assert site.row(secret_id) is not None

    # A POST without the page's CSRF token (a cross-site form, a bot) is refused and burns nothing.
    request = urllib.request.Request(site.served.base + path, method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - our own loopback server
    assert refused.value.code == 403
    assert site.row(secret_id) is not None

    # The complete link still works: nothing was burned.
    reader.goto(link)
    assert reveal(reader) == TEXT
    watch.assert_clean()


def test_python_and_the_page_read_each_other(site: Site, open_context, tmp_path: Path) -> None:
    env = {**site.env, "RONRON_PUBLIC_URL": site.served.base, "RONRON_LANGUAGE": "en"}
    command = [sys.executable, "-m", "ronron", "secret", "new", "--hours", "1"]

    # Python → JavaScript: `ronron secret new` seals, Chromium opens.
    made = subprocess.run(
        command, env=env, cwd=tmp_path, input=TEXT.encode(), capture_output=True, check=True
    )
    link = made.stdout.decode().splitlines()[0]
    site.link(link)
    page, watch = open_context()
    page.goto(link)
    assert reveal(page) == TEXT

    # The same with a passphrase: PBKDF2, then HKDF over the key and the stretched passphrase.
    code, out, err, _shown = run_with_terminal(
        [*command, "--passphrase"],
        env=env,
        cwd=tmp_path,
        stdin=TEXT.encode(),
        answers=[
            ("Passphrase: ", "Ünïcode 🐈 phrase"),
            ("Passphrase again: ", "Ünïcode 🐈 phrase"),
        ],
    )
    assert code == 0, err
    page.goto(out.splitlines()[0])
    assert reveal(page, passphrase="Ünïcode 🐈 phrase") == TEXT

    # JavaScript → Python: Chromium seals, Python opens the stored row with the link's key.
    plain_link = create(page, site, TEXT)
    _path, plain_id, plain_key = site.link(plain_link)
    assert envelope.open_sealed(site.sealed(plain_id), plain_key) == TEXT
    # The passphrase is normalised (NFC) on both sides: typed decomposed, opened composed.
    protected_link = create(page, site, TEXT, passphrase="E\u0301te\u0301 🐈")
    _path, protected_id, protected_key = site.link(protected_link)
    sealed = site.sealed(protected_id)
    assert envelope.open_sealed(sealed, protected_key, "\u00c9t\u00e9 🐈") == TEXT
    with pytest.raises(envelope.WrongKey):
        envelope.open_sealed(sealed, protected_key, "Ete 🐈")

    # Leave nothing behind for the other tests: reveal both.
    for secret_id in (plain_id, protected_id):
        assert post_with_csrf(page, f"{site.served.base}/secret/{secret_id}/") == 200
    watch.assert_clean()


def test_only_the_served_origin_and_the_strict_policy(site: Site, open_context) -> None:
    page, watch = open_context()
    response = page.goto(site.served.base + "/secret/")
    assert response.headers["content-security-policy"] == POLICY
    assert response.headers["cache-control"] == "no-store"
    # No address of these pages ever goes to another site in a Referer header.
    assert response.headers["referrer-policy"] in {"no-referrer", "same-origin"}
    link = create(page, site, TEXT, passphrase="une phrase")
    path, _secret_id, _key = site.link(link)
    page.click("[data-copies='secret-link']")
    page.locator("[data-copy-status='secret-link']").filter(has_text=re.compile(".")).wait_for()

    shown = page.goto(link)
    assert shown.headers["content-security-policy"] == POLICY
    assert reveal(page, passphrase="une phrase") == TEXT
    gone = page.reload()
    assert gone.status == 404
    assert gone.headers["content-security-policy"] == POLICY

    assert watch.requests
    strangers = [url for _method, url in watch.requests if not url.startswith(site.served.base)]
    assert not strangers, strangers
    assert watch.posts_to(path) == 1
    watch.assert_clean()


def test_without_javascript_or_webcrypto_the_page_says_what_it_needs(
    site: Site, open_context
) -> None:
    page, _watch = open_context(java_script_enabled=False)
    page.goto(site.served.base + "/secret/")
    assert page.locator("noscript").count() == 1
    assert page.locator("#secret-form").is_hidden()
    assert "JavaScript" in str(page.locator("main").text_content())

    # Plain http on a name other than the machine itself: no crypto.subtle, said so plainly.
    insecure, watch = open_context(locale="en-US")
    insecure.goto(site.served.base.replace("127.0.0.1", INSECURE_HOST) + "/secret/")
    assert insecure.evaluate("window.isSecureContext") is False
    insecure.locator("#secret-unsupported").wait_for(state="visible")
    assert "https" in insecure.locator("#secret-unsupported").inner_text()
    assert insecure.locator("#secret-form").is_hidden()
    watch.assert_clean()


def test_english_page_and_a_language_switch_keeps_the_key(site: Site, open_context) -> None:
    page, watch = open_context(locale="en-US")
    page.goto(site.served.base + "/secret/")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Share a secret"
    assert page.locator("#secret-submit").inner_text() == "Create the link"
    link = create(page, site, TEXT)
    assert page.locator("#secret-result h2").inner_text() == "Your link is ready"
    # The expiry in words, in the page's language: "Saturday, November 22, 2026 at 8:46 PM".
    expiry = page.locator("#secret-expiry").inner_text()
    assert re.search(r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \w+ \d", expiry)
    page.click("#secret-again")
    assert page.locator("#secret-form").is_visible()
    assert page.locator("#secret-result").is_hidden()
    assert page.evaluate("document.activeElement.id") == "secret-text"
    path, secret_id, key = site.link(link)

    page.goto(link)
    assert "Reveal the secret" in page.locator("#secret-submit").inner_text()
    page.select_option("#language-select", "fr")
    with page.expect_navigation() as switched:
        page.click(".language-form button[type=submit]")
    # A form posted from a page sent with "Referrer-Policy: no-referrer" carries "Origin: null",
    # which Django's CSRF check refuses: the pages' policy must let same-origin posts through.
    assert switched.value.status == 200, site.served.output[-600:]
    assert page.get_attribute("html", "lang") == "fr"
    # The key came back from the tab's storage, which no longer holds it.
    page.wait_for_function(f"() => location.hash === '#{key}'")
    assert page.evaluate("sessionStorage.length") == 0
    assert site.row(secret_id) is not None
    assert reveal(page) == TEXT
    assert site.row(secret_id) is None
    assert "#" not in page.url
    assert watch.posts_to(path) == 1
    # The language form never carried the key: only the path.
    assert key not in site.served.output
    watch.assert_clean()


def test_a_french_browser_gets_the_french_page(site: Site, open_context) -> None:
    page, watch = open_context(locale="fr-FR")
    page.goto(site.served.base + "/secret/")
    assert page.get_attribute("html", "lang") == "fr"
    # The byte count follows the page's language: "65 536" with a French narrow space.
    count = page.locator("#secret-bytes-left").inner_text()
    assert re.fullmatch(r"65\s?536", count.replace("\u202f", " ")), count
    page.fill("#secret-text", "é" * 32769)
    assert page.locator("#secret-text-error p").is_visible()
    assert page.get_attribute("#secret-text", "aria-invalid") == "true"
    page.click("#secret-submit")
    assert page.locator("#secret-result").is_hidden()
    assert watch.posts_to("/secret/") == 0
    page.fill("#secret-text", "é" * 32768)
    assert page.locator("#secret-text-error p").count() == 0
    assert page.locator("#secret-bytes-left").inner_text() == "0"
    watch.assert_clean()
