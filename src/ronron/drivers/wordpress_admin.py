"""The WordPress administrator account: the non-interactive install that creates it, and the
credentials the console or the CLI shows once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ronron.drivers.wordpress_spec import DEFAULT_ADMIN_USER

if TYPE_CHECKING:
    from ronron.services.models import Service

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


def admin_credentials(service: Service) -> dict[str, str]:
    """The WordPress administrator's login, password and address, for the console or the CLI
    to show once (they are stored encrypted on the service)."""
    creds = service.credentials or {}
    if service.kind != "wordpress" or "admin_password" not in creds:
        return {}
    scheme = "https" if ((service.observed or {}).get("parts") or {}).get("tls") else "http"
    return {
        "login": str((service.spec or {}).get("admin_user") or DEFAULT_ADMIN_USER),
        "password": str(creds["admin_password"]),
        "url": f"{scheme}://{service.domain}/wp-admin/",
    }
