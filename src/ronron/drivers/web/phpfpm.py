"""PHP-FPM: one pool per PHP site, ``<php_fpm_pool_dir>/ronron-<slug>.conf``.

Each pool runs as the site's own system user, listens on a socket only nginx may connect to,
confines PHP to the site's files (``open_basedir``, private temporary directory) and carries
the site's limits. A new pool is tested with ``php-fpm -t`` before the reload, and put back as
it was when the test fails: a broken pool would stop PHP for every site at the next reload.
"""

from __future__ import annotations

import re
import time

from ronron.drivers.web.site import Site
from ronron.fleet.hosts import Host, HostError
from ronron.fleet.layout import Layout

POOL_FILE = re.compile(r"^ronron-([a-z0-9-]{1,24})\.conf$")
_UNSAFE = re.compile(r"[\r\n\x00;\"]")

# PHP functions that start programs: a site has no business running commands on the server.
DISABLED_FUNCTIONS = (
    "exec",
    "passthru",
    "shell_exec",
    "system",
    "proc_open",
    "popen",
    "pcntl_exec",
    "pcntl_fork",
)


def tmp_dir(site: Site, layout: Layout) -> str:
    """The site's private temporary directory (uploads in progress, sessions)."""
    return f"{site.root(layout)}/tmp"  # noqa: S108 (the site's own, not the shared /tmp)


def log_dir(site: Site, layout: Layout) -> str:
    return f"{site.root(layout)}/log"


def _value(text: str) -> str:
    if _UNSAFE.search(text):
        raise HostError(f"refusing an unsafe value in a PHP-FPM pool: {text!r}")
    return text


def render_pool(site: Site, layout: Layout, *, readable: tuple[str, ...] = ()) -> str:
    """The pool file. ``readable``: paths outside the site's root that its PHP may read (the
    shared core, its configuration file)."""
    limits = site.limits
    root = site.root(layout)
    tmp = tmp_dir(site, layout)
    basedir = ":".join(_value(path) for path in (f"{root}/", *readable))
    lines = [
        f"; Managed by Ronron for the site {site.slug}; rewritten on every change.",
        f"[site-{site.slug}]",
        f"user = {site.user}",
        f"group = {site.user}",
        f"listen = {_value(site.php_socket(layout))}",
        f"listen.owner = {_value(layout.nginx_user)}",
        f"listen.group = {_value(layout.nginx_user)}",
        "listen.mode = 0660",
        "pm = ondemand",
        f"pm.max_children = {int(limits.php_workers)}",
        "pm.process_idle_timeout = 10s",
        "pm.max_requests = 500",
        f"request_terminate_timeout = {int(limits.php_request_timeout_s)}s",
        "security.limit_extensions = .php",
        "catch_workers_output = no",
        f"env[TMPDIR] = {_value(tmp)}",
        f"php_admin_value[memory_limit] = {int(limits.php_memory_limit_mb)}M",
        f"php_admin_value[max_execution_time] = {int(limits.php_request_timeout_s)}",
        f"php_admin_value[upload_max_filesize] = {int(limits.php_upload_max_mb)}M",
        f"php_admin_value[post_max_size] = {int(limits.php_upload_max_mb)}M",
        f"php_admin_value[open_basedir] = {basedir}",
        f"php_admin_value[upload_tmp_dir] = {_value(tmp)}",
        f"php_admin_value[session.save_path] = {_value(tmp)}",
        f"php_admin_value[sys_temp_dir] = {_value(tmp)}",
        f"php_admin_value[disable_functions] = {','.join(DISABLED_FUNCTIONS)}",
        "php_admin_flag[allow_url_include] = off",
        "php_admin_flag[expose_php] = off",
        "php_admin_flag[log_errors] = on",
        f"php_admin_value[error_log] = {_value(log_dir(site, layout))}/php-error.log",
        "",
    ]
    return "\n".join(lines)


def pool_matches(host: Host, site: Site, content: str) -> bool:
    path = site.php_pool_conf(host.layout)
    return host.exists(path) and host.read_file(path).decode(errors="replace") == content


def write_pool(host: Host, site: Site, content: str, *, wait: float = 10.0) -> str:
    """Write the pool if it changed, test the whole PHP-FPM configuration, reload."""
    layout = host.layout
    path = site.php_pool_conf(layout)
    previous = host.read_file(path) if host.exists(path) else None
    if previous is not None and previous.decode(errors="replace") == content:
        return f"{path}: unchanged"
    host.run(["install", "-d", "-m", "0755", layout.run_dir])
    host.write_file(path, content, 0o644)
    test = host.run(layout.php_fpm_test, check=False)
    if not test.ok:
        if previous is None:
            host.run(["rm", "-f", "--", path])
        else:
            host.write_file(path, previous, 0o644)
        raise HostError(f"PHP-FPM refused the pool for {site.slug}, left as it was: {test.output}")
    host.run(layout.php_fpm_reload)
    # The reload is asynchronous: the site is only usable once its socket answers.
    socket = site.php_socket(layout)
    deadline = time.monotonic() + wait
    while not host.exists(socket):
        if time.monotonic() > deadline:
            raise HostError(f"PHP-FPM reloaded but {socket} did not appear")
        time.sleep(0.05)
    return f"{path}: written, PHP-FPM reloaded"


def remove_pool(host: Host, site: Site) -> str:
    layout = host.layout
    path = site.php_pool_conf(layout)
    if not host.exists(path):
        return f"{path}: already absent"
    host.run(["rm", "-f", "--", path])
    host.run(layout.php_fpm_test)
    host.run(layout.php_fpm_reload)
    return f"{path}: removed, PHP-FPM reloaded"


def list_pools(host: Host) -> list[str]:
    """Slugs of every Ronron pool on the server (``ronron-<slug>.conf``)."""
    directory = host.layout.php_fpm_pool_dir
    if not host.exists(directory):
        return []
    listing = host.run(
        ["find", directory, "-maxdepth", "1", "-name", "ronron-*.conf", "-printf", "%f\n"]
    )
    slugs = []
    for name in listing.stdout.splitlines():
        match = POOL_FILE.match(name.strip())
        if match:
            slugs.append(match.group(1))
    return sorted(slugs)
