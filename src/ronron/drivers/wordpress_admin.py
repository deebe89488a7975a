"""The WordPress administrator account: the non-interactive install that creates it, a new
password when staff send new credentials, and what is handed to the member (as a one-time
link, by ``services/handover.py``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import idna
from django.utils.translation import gettext as _

from ronron.drivers.wordpress_spec import DEFAULT_ADMIN_USER
from ronron.fleet.hosts import HostError

if TYPE_CHECKING:
    from ronron.drivers.web.site import Site
    from ronron.fleet.hosts import Host
    from ronron.services.models import Service

# The service's credential that holds the administrator's password until it is handed over.
HANDED_OVER = "admin_password"

# Run as the site's user by the PHP command line; everything it needs (the password too)
# comes on standard input, never on the command line.
INSTALL_PHP = r"""
$in = json_decode(stream_get_contents(STDIN), true);
$_SERVER['HTTP_HOST'] = $in['host'];
$_SERVER['SERVER_NAME'] = $in['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_INSTALLING', true);
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
require $in['core'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if (is_blog_installed()) { echo "installed\n"; exit(0); }
if ($in['mode'] === 'check') { echo "not-installed\n"; exit(0); }
wp_install($in['title'], $in['user'], $in['email'], true, '', wp_slash($in['password']),
           $in['language']);
wp_cache_flush();
echo is_blog_installed() ? "installed\n" : "failed\n";
"""

# The same way in: a new password for the administrator's login; the sessions open with the
# old one are closed (its cookies already stop working: they carry a part of the old hash).
RESET_ADMIN_PHP = r"""
$in = json_decode(stream_get_contents(STDIN), true);
$_SERVER['HTTP_HOST'] = $in['host'];
$_SERVER['SERVER_NAME'] = $in['host'];
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
if (!defined('DISABLE_WP_CRON')) { define('DISABLE_WP_CRON', true); }
require $in['core'] . '/wp-load.php';
if (!is_blog_installed()) { echo "not-installed\n"; exit(1); }
$user = get_user_by('login', $in['user']);
if (!$user) { echo "no-such-user\n"; exit(1); }
wp_set_password($in['password'], $user->ID);
WP_Session_Tokens::get_instance($user->ID)->destroy_all();
wp_cache_flush();
echo "password-set\n";
"""


def _php_as_site(host: Host, site: Site, script: str, payload: dict[str, Any], timeout: int) -> Any:
    return host.run(
        ["runuser", "-u", site.user, "--", *host.layout.php_cli, "-r", script],
        input=json.dumps(payload),
        check=False,
        timeout=timeout,
    )


def is_installed(host: Host, site: Site) -> bool:
    result = _php_as_site(
        host,
        site,
        INSTALL_PHP,
        {"mode": "check", "host": site.domain, "core": host.layout.wordpress_core},
        timeout=60,
    )
    return result.ok and result.stdout.strip().splitlines()[-1:] == ["installed"]


def install(host: Host, site: Site, account: dict[str, str]) -> str:
    """``account``: title, user, email, password, language."""
    payload = {"mode": "install", "host": site.domain, "core": host.layout.wordpress_core}
    result = _php_as_site(host, site, INSTALL_PHP, {**payload, **account}, timeout=120)
    if not result.ok or result.stdout.strip().splitlines()[-1:] != ["installed"]:
        raise HostError(f"the WordPress installation failed: {result.output[-2000:]}")
    return "WordPress installed; administrator account ready"


def set_admin_password(host: Host, site: Site, login: str, password: str) -> str:
    payload = {
        "host": site.domain,
        "core": host.layout.wordpress_core,
        "user": login,
        "password": password,
    }
    result = _php_as_site(host, site, RESET_ADMIN_PHP, payload, timeout=60)
    last = result.stdout.strip().splitlines()[-1:]
    if result.ok and last == ["password-set"]:
        return f"new password set for {login}"
    if last == ["no-such-user"]:
        raise HostError(f"the site has no user called {login}")
    if last == ["not-installed"]:
        raise HostError("WordPress is not installed on this site")
    raise HostError(f"the password could not be set: {result.output[-2000:]}")


def admin_login(service: Service) -> str:
    return str((service.spec or {}).get("admin_user") or DEFAULT_ADMIN_USER)


def _shown(domain: str) -> str:
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def credentials_to_hand_over(service: Service) -> dict[str, str] | None:
    """The administrator's login, password and address while Ronron still holds the password
    (encrypted on the service): from the install until it is handed over."""
    password = (service.credentials or {}).get(HANDED_OVER)
    if service.kind != "wordpress" or not password:
        return None
    scheme = "https" if ((service.observed or {}).get("parts") or {}).get("tls") else "http"
    return {
        "login": admin_login(service),
        "password": str(password),
        "url": f"{scheme}://{service.domain}/wp-admin/",
        "purpose": _("the administrator account of the site %(domain)s")
        % {"domain": _shown(service.domain)},
        "stored_as": HANDED_OVER,
    }
