"""nginx: one file per site, ``<nginx_sites_dir>/ronron-<slug>.conf``, included in ``http``.

The file holds the site's rate and connection zones (``http`` level) and its server blocks.
Every value that reaches it is checked again here (slugs, IDNA domains, integers, paths): a
value with a space, a quote, a brace, a semicolon or a line break could add directives.
A new file is tested with ``nginx -t`` before anything reloads it; a file that fails the
test is rolled back at once, so a broken configuration never stays in place.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from ronron.drivers.web.site import LIMIT_RANGES, NGINX_LIMITS, Site
from ronron.fleet.hosts import HostError

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.layout import Layout

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$")
_PATH = re.compile(r"^/[A-Za-z0-9._/+@-]*$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?!-)[a-z0-9-]{1,63}(?<!-)$")
SUSPENDED_PAGE_NAME = "index.html"
# How long a suspended site asks clients to wait before trying again, in seconds.
RETRY_AFTER = 3600

SUSPENDED_PAGE = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Service suspendu</title>
<style>
body { font-family: system-ui, sans-serif; color: #1f2933; background: #f7f5f2;
       max-width: 36rem; margin: 4rem auto; padding: 0 1.25rem; line-height: 1.6; }
h1 { font-size: 1.6rem; font-weight: 600; }
</style>
</head>
<body>
<main>
<h1>Service suspendu</h1>
<p>Ce site est momentanément suspendu. Rien n’est perdu : ses données sont conservées
et il sera de nouveau en ligne dès que la situation sera réglée.</p>
<p>Pour toute question, l’association qui l’anime peut contacter son hébergeur.</p>
</main>
</body>
</html>
"""


def check_slug(slug: str) -> str:
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise HostError(f"refusing an unsafe site name: {slug!r}")
    return slug


def check_domain(domain: str) -> str:
    """Only the ASCII (IDNA) form that ``normalize_domain`` returns reaches a config file."""
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise HostError(f"refusing an unsafe domain name: {domain!r}")
    return domain


def check_path(path: str) -> str:
    if not isinstance(path, str) or not _PATH.fullmatch(path) or "/../" in f"{path}/":
        raise HostError(f"refusing an unsafe path in a web server configuration: {path!r}")
    return path


def check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HostError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _listen(layout: Layout, port: int, ssl: bool = False) -> str:
    check_int("port", port, 1, 65535)
    address = layout.listen_address
    suffix = " ssl" if ssl else ""
    if not address:
        return f"listen {port}{suffix};"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise HostError(f"refusing an unsafe listen address: {address!r}") from None
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"listen {host}:{port}{suffix};"


def zone_names(slug: str) -> tuple[str, str]:
    name = "ronron_" + check_slug(slug).replace("-", "_")
    return f"{name}_req", f"{name}_conn"


def _acme(layout: Layout) -> list[str]:
    return [
        "    location ^~ /.well-known/acme-challenge/ {",
        f"        root {check_path(layout.acme_root)};",
        "        default_type text/plain;",
        "        try_files $uri =404;",
        "    }",
    ]


def _site_body(site: Site, layout: Layout) -> list[str]:
    limits = site.limits
    for name in NGINX_LIMITS:
        low, high = LIMIT_RANGES[name]
        check_int(name, getattr(limits, name), low, high)
    req_zone, conn_zone = zone_names(site.slug)
    root = check_path(site.root(layout))
    lines = [
        f"    access_log {root}/log/access.log;",
        f"    error_log {root}/log/error.log;",
        f"    client_max_body_size {limits.client_max_body_mb}m;",
        (
            f"    limit_req zone={req_zone} burst={limits.burst} nodelay;"
            if limits.burst
            else f"    limit_req zone={req_zone};"
        ),
        f"    limit_conn {conn_zone} {limits.connections_per_client};",
        "    limit_req_status 429;",
        "    limit_conn_status 429;",
        *_acme(layout),
    ]
    if site.suspended:
        # Every request gets the shared French page with a 503; the site's own files stay
        # where they are, untouched, ready for the resumption.
        lines += [
            "    location / {",
            "        return 503;",
            "    }",
            "    error_page 503 @ronron_suspended;",
            "    location @ronron_suspended {",
            f"        root {check_path(layout.suspended_root)};",
            f"        try_files /{SUSPENDED_PAGE_NAME} =503;",
            "        default_type text/html;",
            "        charset utf-8;",
            f"        add_header Retry-After {RETRY_AFTER} always;",
            '        add_header Cache-Control "no-store" always;',
            "    }",
        ]
        return lines
    lines += [
        f"    root {check_path(site.served_root(layout))};",
        "    index index.html index.htm" + (" index.php;" if site.php else ";"),
        "    charset utf-8;",
        # Dot files (.git, .htpasswd, .env…) are never served.
        "    location ~ /\\. {",
        "        deny all;",
        "    }",
        "    location / {",
        (
            "        try_files $uri $uri/ /index.php?$args;"
            if site.php
            else "        try_files $uri $uri/ =404;"
        ),
        "    }",
    ]
    if site.php:
        lines += [
            "    location ~ \\.php$ {",
            "        try_files $uri =404;",
            "        include fastcgi_params;",
            "        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;",
            f"        fastcgi_pass unix:{check_path(site.php_socket(layout))};",
            "    }",
        ]
    for block in site.extra_locations:
        if "\x00" in block or not block.strip():
            raise HostError("refusing an empty or binary nginx location block")
        lines += ["    " + line if line else "" for line in block.strip("\n").split("\n")]
    return lines


def render_server_block(site: Site, layout: Layout) -> str:
    """The whole per-site file: zones, then the server block(s). Pure: same input, same text."""
    slug = check_slug(site.slug)
    names = " ".join(check_domain(d) for d in site.server_names)
    req_zone, conn_zone = zone_names(slug)
    low, high = LIMIT_RANGES["requests_per_second"]
    rate = check_int("requests_per_second", site.limits.requests_per_second, low, high)
    out = [
        f"# Managed by Ronron (site {slug}): changes made here are overwritten.",
        f"limit_req_zone $binary_remote_addr zone={req_zone}:1m rate={rate}r/s;",
        f"limit_conn_zone $binary_remote_addr zone={conn_zone}:1m;",
        "",
        "server {",
        "    " + _listen(layout, layout.http_port),
        f"    server_name {names};",
    ]
    if site.tls:
        certs = check_path(f"{layout.certs_dir}/{slug}")
        https_port = check_int("https_port", layout.https_port, 1, 65535)
        # Everything but the ACME challenges (renewals validate over plain HTTP) goes to HTTPS.
        target = "https://$host" + ("" if https_port == 443 else f":{https_port}")
        out += [
            f"    access_log {check_path(site.root(layout))}/log/access.log;",
            *_acme(layout),
            "    location / {",
            f"        return 301 {target}$request_uri;",
            "    }",
            "}",
            "",
            "server {",
            "    " + _listen(layout, layout.https_port, ssl=True),
            f"    server_name {names};",
            f"    ssl_certificate {certs}/fullchain.pem;",
            f"    ssl_certificate_key {certs}/privkey.pem;",
        ]
    out += _site_body(site, layout)
    out += ["}", ""]
    text = "\n".join(out)
    if "\r" in text or "\x00" in text:
        raise HostError("refusing a control character in an nginx configuration")
    return text


# --- on the server ------------------------------------------------------------------------------


def _pending_marker(layout: Layout, slug: str) -> str:
    return f"{check_path(layout.run_dir)}/nginx-reload-{check_slug(slug)}"


def reload_pending(host: Host, slug: str) -> bool:
    """A file was changed for this site and nginx not reloaded since (a crash in between)."""
    return host.exists(_pending_marker(host.layout, slug))


def _mark_pending(host: Host, slug: str) -> None:
    host.run(["mkdir", "-p", "-m", "0755", host.layout.run_dir])
    host.write_file(_pending_marker(host.layout, slug), "", 0o644)


def read_server_block(host: Host, site: Site) -> str | None:
    path = site.nginx_conf(host.layout)
    if not host.exists(path):
        return None
    return host.read_file(path).decode(errors="replace")


def write_server_block(host: Host, site: Site, text: str | None = None) -> str:
    """Write the site's file atomically and test the whole configuration; on failure put the
    previous file back (or remove the new one) and raise. Does not reload: see ``reload``."""
    layout = host.layout
    text = render_server_block(site, layout) if text is None else text
    path = check_path(site.nginx_conf(layout))
    previous = read_server_block(host, site)
    if previous == text:
        return f"{path} is already up to date"
    # Marked before the change: a crash right after it still leads to a reload next time.
    _mark_pending(host, site.slug)
    host.write_file(path, text, 0o644)
    result = host.run(list(layout.nginx_test), check=False)
    if not result.ok:
        if previous is None:
            host.run(["rm", "-f", path])
        else:
            host.write_file(path, previous, 0o644)
        raise HostError(f"nginx refused the configuration for {site.domain}: {result.output}")
    return f"wrote {path}"


def remove_server_block(host: Host, site: Site) -> str:
    path = check_path(site.nginx_conf(host.layout))
    if not host.exists(path):
        return f"{path} is already gone"
    _mark_pending(host, site.slug)
    host.run(["rm", "-f", path])
    return f"removed {path}"


def reload(host: Host, slug: str) -> str:
    """Test then reload nginx, then forget that this site was waiting for a reload."""
    layout = host.layout
    host.run(list(layout.nginx_test))
    result = host.run(list(layout.nginx_reload))
    host.run(["rm", "-f", _pending_marker(layout, slug)])
    return result.output or "nginx reloaded"


def suspended_page_path(layout: Layout) -> str:
    return f"{check_path(layout.suspended_root)}/{SUSPENDED_PAGE_NAME}"


def suspended_page_ready(host: Host) -> bool:
    path = suspended_page_path(host.layout)
    return host.exists(path) and host.read_file(path) == SUSPENDED_PAGE.encode()


def write_suspended_page(host: Host) -> str:
    """The shared « service suspendu » page, readable by the web server."""
    if suspended_page_ready(host):
        return "the page is already in place"
    host.run(["mkdir", "-p", "-m", "0755", host.layout.suspended_root])
    host.write_file(suspended_page_path(host.layout), SUSPENDED_PAGE, 0o644)
    return f"wrote {suspended_page_path(host.layout)}"


def site_files(host: Host) -> list[str]:
    """Slugs of every ``ronron-<slug>.conf`` in the sites directory (for orphans)."""
    directory = check_path(host.layout.nginx_sites_dir)
    if not host.exists(directory):
        return []
    result = host.run(
        ["find", directory, "-mindepth", "1", "-maxdepth", "1", "-name", "ronron-*.conf"]
    )
    slugs = []
    for line in result.stdout.splitlines():
        name = line.rsplit("/", 1)[-1]
        slug = name[len("ronron-") : -len(".conf")]
        if SLUG.fullmatch(slug):
            slugs.append(slug)
    return sorted(slugs)
