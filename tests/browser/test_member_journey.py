"""A new member's whole journey, in headless Chromium against a real `ronron serve` (gunicorn,
worker, prober) whose mail goes to a real SMTP server on loopback and whose WordPress sites are
made on the test stack (nginx, PHP-FPM, MariaDB on loopback):

the admin adds the web server and fills the catalog → a visitor applies on /join/ for a
WordPress site → the admin approves → the contact receives the portal invitation, creates an
account and sees the member and its site being set up → the worker's apply installs WordPress
→ the credentials arrive as a one-time link → Chromium reveals them once → logs into the new
site's dashboard → the link no longer opens. Then the new manager asks for a second WordPress
site from the portal's catalog, the admin approves it, and its credentials open that site too.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.browser.journey_support import (
    DOMAIN_SUFFIX,
    Mail,
    Mailbox,
    cleanup_sites_of,
    read_credentials,
    ronron,
    set_server_layout,
    stack_layout,
    wait_until,
)
from tests.serving import PASSWORD_LINE, Served, free_port
from tests.stack.mariadb import MariaDB
from tests.stack.nginx import NginxStack
from tests.stack.phpfpm import PhpFpm

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BOARD = "bureau@hebergeur.example"
CONTACT = "lea@jardins-partages.example"
ASSOCIATION = "Jardins partagés du Faubourg"
SERVER = "web-journey"
# An apply installs WordPress: seconds here, but the machine may be busy with other tests.
APPLY_TIMEOUT = 300.0
MAIL_TIMEOUT = 60.0
PAGE_TIMEOUT_MS = 30_000


@dataclass
class Journey:
    served: Served
    env: dict[str, str]
    cwd: Path
    mailbox: Mailbox
    browser: Any
    nginx_port: int
    token: str
    admin_name: str
    admin_password: str
    # The test stack's paths, for the served installation's server.
    layout: dict[str, Any]
    pages: list[Any] = field(default_factory=list)

    def domain(self, name: str) -> str:
        # "t-" first: the system names made from it are those the stack fixtures clean up.
        return f"t-{name}-{self.token}{DOMAIN_SUFFIX}"

    def url(self, path: str) -> str:
        return self.served.base + path

    def new_page(self) -> Any:
        """A page in a browser context of its own (its own cookies), in French."""
        context = self.browser.new_context(locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.pages.append(page)
        return page

    def alive(self) -> None:
        if self.served.process.poll() is not None:
            raise AssertionError(f"ronron serve exited with {self.served.process.returncode}")

    def wait_for_mail(self, to: str, *needles: str | re.Pattern[str], what: str) -> Mail:
        """The first message to ``to`` that contains all ``needles``, once it came."""
        wait_until(
            lambda: bool(self.mailbox.to(to, *needles)),
            timeout=MAIL_TIMEOUT,
            what=what,
            alive=self.alive,
        )
        return self.mailbox.to(to, *needles)[0]

    @contextlib.contextmanager
    def explained(self, directory: Path) -> Iterator[None]:
        """On a failure, screenshots of every page, what the server said and what was mailed
        (printed: pytest shows it with the failure)."""
        try:
            yield
        except BaseException:
            for number, page in enumerate(self.pages):
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(directory / f"page-{number}.png"), full_page=True)
            print(self.served.output[-20_000:])
            print("Mail received:\n" + self.mailbox.summary())
            print(f"Screenshots in {directory}")
            raise

    def link(self, mail: Mail, path_pattern: str) -> str:
        """The link of the served installation in a message (``path_pattern`` after the base)."""
        found = re.search(re.escape(self.served.base) + path_pattern, mail.body)
        assert found, mail.body
        return found.group(0)


def no_warnings(page: Any) -> None:
    """The page says nothing went wrong (a message that could not go, a service that waits)."""
    problems = page.locator(".message--warning, .message--error, .form-errors, .field__error")
    assert problems.count() == 0, problems.all_inner_texts()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    # aiosmtpd logs every SMTP command: that would bury a failure's own story.
    smtp_log = logging.getLogger("mail.log")
    level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()
        smtp_log.setLevel(level)


@pytest.fixture
def journey(
    serve_env: dict[str, str],
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    nginx_stack: NginxStack,
    phpfpm: PhpFpm,
    mariadb: MariaDB,
) -> Iterator[Journey]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make test` installs it")
    from playwright.sync_api import sync_playwright

    box, smtp_port = mailbox
    port = free_port()
    env = {
        **serve_env,
        "RONRON_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "RONRON_EMAIL_HOST": "127.0.0.1",
        "RONRON_EMAIL_PORT": str(smtp_port),
        "RONRON_EMAIL_FROM": "ronron@hebergeur.example",
        "RONRON_ORGANIZATION_EMAIL": BOARD,
    }
    token = secrets.token_hex(3)
    served = Served(env, tmp_path, port=port)
    try:
        served.wait_until_up("/login/")
        found = PASSWORD_LINE.search(served.output)
        assert found, served.output
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    # The test sites' names lead to the test nginx; its port and the served
                    # one are random: never one of those Chromium refuses.
                    f"--host-resolver-rules=MAP *{DOMAIN_SUFFIX} 127.0.0.1",
                    f"--explicitly-allowed-ports={nginx_stack.port},{port}",
                ],
            )
            try:
                yield Journey(
                    served=served,
                    env=env,
                    cwd=tmp_path,
                    mailbox=box,
                    browser=browser,
                    nginx_port=nginx_stack.port,
                    token=token,
                    admin_name=found.group(1),
                    admin_password=found.group(2),
                    layout=stack_layout(nginx_stack, phpfpm, mariadb),
                )
            finally:
                browser.close()
    finally:
        if served.process.poll() is None:
            served.stop()
        cleanup_sites_of(token, nginx_stack, phpfpm, mariadb)


# --- the steps -----------------------------------------------------------------------------------


def admin_logs_in(journey: Journey) -> Any:
    page = journey.new_page()
    page.goto(journey.url("/login/"))
    page.fill("input[name=username]", journey.admin_name)
    page.fill("input[name=password]", journey.admin_password)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login/)"))
    assert page.locator("html").get_attribute("lang") == "fr"
    return page


def admin_prepares_the_hoster(journey: Journey, admin: Any) -> None:
    """A web server on this machine (the test stack), and the catalog's default entries."""
    admin.goto(journey.url("/servers/new/"))
    admin.fill("input[name=name]", SERVER)
    admin.select_option("select[name=host_kind]", "local")
    admin.check("input[name=roles][value=web]")
    admin.fill("input[name=memory_mb]", "8192")
    admin.fill("input[name=disk_gb]", "100")
    admin.click("main form button[type=submit]")
    admin.wait_for_url(re.compile(rf"/servers/{SERVER}/$"))
    no_warnings(admin)
    # Where nginx, PHP-FPM and MariaDB of the test stack keep their files.
    set_server_layout(journey.env, journey.cwd, SERVER, journey.layout)

    admin.goto(journey.url("/catalog/"))
    admin.click("main form button[type=submit]")  # "Créer les entrées par défaut"
    admin.wait_for_url(re.compile(r"/catalog/$"))
    assert "WordPress" in admin.locator("main table").inner_text()


def visitor_applies(journey: Journey, domain: str) -> None:
    page = journey.new_page()
    page.goto(journey.url("/join/"))
    assert page.locator("html").get_attribute("lang") == "fr"
    form = page.locator("form.join-form")
    form.locator("input[name=kind][value=association]").check()
    page.fill("input[name=name]", ASSOCIATION)
    page.fill("input[name=address]", "12 rue des Potagers")
    page.fill("input[name=postal_code]", "35000")
    page.fill("input[name=city]", "Rennes")
    page.fill("input[name=contact_name]", "Léa Jardinier")
    page.fill("input[name=contact_email]", CONTACT)
    page.check("input[name=want_wordpress]")
    page.fill("input[name=address_wordpress]", domain)
    page.fill("textarea[name=message]", "Nous voudrions un site pour nos ateliers.")
    page.check("input[name=consent]")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/join/thanks/$"))
    no_warnings(page)

    # The applicant is told it arrived; the board is told there is an application to decide.
    journey.wait_for_mail(CONTACT, ASSOCIATION, what="the acknowledgement")
    notice = journey.wait_for_mail(BOARD, ASSOCIATION, what="the board's notice")
    assert journey.link(notice, r"/applications/\d+/")


def admin_approves(journey: Journey, admin: Any, domain: str) -> None:
    admin.goto(journey.url("/applications/"))
    admin.click(f"main table a:has-text('{ASSOCIATION}')")
    admin.wait_for_url(re.compile(r"/applications/\d+/$"))
    assert domain in admin.locator("main").inner_text()
    admin.click("form[action$='/approve/'] button[type=submit]")
    admin.wait_for_url(re.compile(r"/members/\d+/$"))
    # Member created with its number; its contact, dues, site and invitation without a hitch.
    assert admin.locator(".message--success").count() == 1
    no_warnings(admin)
    assert CONTACT in admin.locator("main").inner_text()


def contact_joins_the_portal(journey: Journey, domain: str) -> tuple[Any, str]:
    """The contact opens the invitation, creates an account, lands on the member's page."""
    invitation = journey.wait_for_mail(CONTACT, "/portal/invitation/", what="the invitation")
    link = journey.link(invitation, r"/portal/invitation/[A-Za-z0-9_-]+/")
    page = journey.new_page()
    page.goto(link)
    page.fill("input[name=new-password1]", "radis-courgette-42")
    page.fill("input[name=new-password2]", "radis-courgette-42")
    page.click("button[name=action][value=create]")
    page.wait_for_url(re.compile(r"/portal/[A-Z]\d{4}/$"))
    number = page.url.rstrip("/").rsplit("/", 1)[1]
    assert ASSOCIATION in page.locator("h1").inner_text()
    assert number in page.locator("h1").inner_text()
    # The site asked for is there, being set up or already running.
    assert page.locator("#services tr", has_text=domain).count() == 1
    # The invitation works once.
    again = journey.new_page()
    assert again.goto(link).status == 410
    return page, number


def wait_for_applies(journey: Journey, admin: Any, runs: int) -> None:
    """The console's runs page until ``runs`` runs exist and none is queued or running; each
    one must have succeeded (a failed one shows its journal)."""

    def finished() -> bool:
        admin.goto(journey.url("/plan/runs/"))
        rows = admin.locator("main table tbody tr")
        busy = admin.locator("main table tbody .status--queued, main table tbody .status--running")
        return rows.count() >= runs and busy.count() == 0

    wait_until(finished, timeout=APPLY_TIMEOUT, what="the apply", alive=journey.alive, interval=1.0)
    failed = admin.locator("main table tbody tr").filter(
        has_not=admin.locator(".status--succeeded")
    )
    if failed.count():
        failed.first.locator("a").click()
        raise AssertionError("an apply did not succeed:\n" + admin.locator("main").inner_text())


def service_runs(journey: Journey, manager: Any, number: str, domain: str) -> None:
    """The portal shows the site running (the apply's observation, as the member sees it)."""
    row = manager.locator("#services tr", has_text=domain)

    def running() -> bool:
        manager.goto(journey.url(f"/portal/{number}/"))
        return row.locator(".status--present").count() == 1

    wait_until(running, timeout=30, what=f"{domain} running in the portal", alive=journey.alive)


def reveal_credentials(journey: Journey, mail: Mail, domain: str) -> dict[str, str]:
    """Open the one-time link in a fresh browser, reveal the secret once; a second opening
    says it is gone."""
    assert domain in mail.subject or domain in mail.body
    link = journey.link(mail, r"/secret/[A-Za-z0-9_-]{22}/#[A-Za-z0-9_-]+")
    page = journey.new_page()
    page.goto(link)
    page.click("#secret-submit")
    page.locator("#secret-result").wait_for(state="visible")
    credentials = read_credentials(str(page.locator("#secret-revealed").text_content()))
    assert credentials["url"].startswith(f"http://{domain}/")
    assert credentials["password"] not in mail.body

    # Gone for everyone after that, this browser as any other.
    assert page.reload().status == 404
    assert page.locator("#secret-gone").is_visible()
    other = journey.new_page()
    assert other.goto(link).status == 404
    assert other.locator("#secret-gone").is_visible()
    assert other.locator("#secret-form").count() == 0
    return credentials


def logs_into_wordpress(journey: Journey, domain: str, credentials: dict[str, str]) -> None:
    """The new administrator logs into the site (the test nginx listens on its own port)."""
    site = f"http://{domain}:{journey.nginx_port}"
    page = journey.new_page()
    page.goto(site + "/wp-login.php")
    page.fill("#user_login", credentials["login"])
    page.fill("#user_pass", credentials["password"])
    page.click("#wp-submit")
    page.wait_for_url(re.compile(re.escape(site) + r"/wp-admin/"))
    page.locator("#dashboard-widgets").wait_for(state="visible")
    assert any(c["name"].startswith("wordpress_logged_in_") for c in page.context.cookies())


def manager_asks_for_a_site(journey: Journey, manager: Any, number: str, domain: str) -> None:
    manager.goto(journey.url(f"/portal/{number}/requests/"))
    manager.locator("main article").filter(has_text="WordPress").locator("a.button").click()
    manager.wait_for_url(re.compile(rf"/portal/{number}/requests/ask/\d+/$"))
    manager.fill("input[name=domain]", domain)
    manager.fill("input[name=title]", "Le blog des ateliers")
    manager.fill("textarea[name=message]", "Pour raconter nos ateliers.")
    manager.click("main form.form button[type=submit]")
    manager.wait_for_url(re.compile(rf"/portal/{number}/requests/\d+/$"))
    no_warnings(manager)
    # The WordPress entry needs an admin's approval: the request waits, and the admins know.
    assert manager.locator("main .status--partial").count() == 1
    journey.wait_for_mail(BOARD, domain, "/requests/", what="the admins' notice of the request")


def admin_approves_the_request(journey: Journey, admin: Any, domain: str) -> None:
    admin.goto(journey.url("/requests/"))
    row = admin.locator("main table tbody tr", has_text=domain)
    row.locator("a[href^='/requests/']").click()
    admin.wait_for_url(re.compile(r"/requests/\d+/$"))
    admin.click("form[action$='/approve/'] button[type=submit]")
    admin.wait_for_url(re.compile(r"/requests/\d+/$"))
    assert admin.locator(".message--success").count() == 1
    no_warnings(admin)


# --- the journey ---------------------------------------------------------------------------------


def test_apply_approve_receive_the_credentials_and_log_into_the_new_site(
    journey: Journey, tmp_path: Path
) -> None:
    with journey.explained(tmp_path):
        the_journey(journey)


def the_journey(journey: Journey) -> None:
    first, second = journey.domain("jardins"), journey.domain("blog")

    admin = admin_logs_in(journey)
    admin_prepares_the_hoster(journey, admin)
    visitor_applies(journey, first)
    admin_approves(journey, admin, first)
    manager, number = contact_joins_the_portal(journey, first)

    # The approval started an apply in the served worker; the site's credentials follow it.
    wait_for_applies(journey, admin, runs=1)
    service_runs(journey, manager, number, first)
    mail = journey.wait_for_mail(CONTACT, "/secret/", first, what="the first credentials")
    credentials = reveal_credentials(journey, mail, first)
    logs_into_wordpress(journey, first, credentials)

    # A second site, asked for from the portal's catalog and approved by an admin.
    manager_asks_for_a_site(journey, manager, number, second)
    admin_approves_the_request(journey, admin, second)
    journey.wait_for_mail(
        CONTACT, second, f"/portal/{number}/requests/", what="the decision on the request"
    )
    wait_for_applies(journey, admin, runs=2)
    service_runs(journey, manager, number, second)
    mail = journey.wait_for_mail(CONTACT, "/secret/", second, what="the second credentials")
    logs_into_wordpress(journey, second, reveal_credentials(journey, mail, second))

    # The chores that follow up (every few minutes in the prober), run now: the welcome
    # announces what is ready, and the requests are closed.
    ronron(journey.env, journey.cwd, "chores", "run", "requests.ready", "onboarding.welcome")
    # The welcome is the one message that points to the help queue.
    welcome = journey.wait_for_mail(CONTACT, f"/portal/{number}/help/", what="the welcome")
    assert first in welcome.body and second in welcome.body
    manager.goto(journey.url(f"/portal/{number}/requests/"))
    assert manager.locator("main table .status--present").count() == 2
