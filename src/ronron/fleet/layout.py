"""Where things live on a server. Debian 12's defaults, overridable per server
(``Server.layout``): the test suite runs nginx, PHP-FPM and MariaDB from temporary directories."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Layout:
    # Sites: one directory per service, <sites_root>/<slug>/{htdocs,wp-content,tmp,log}
    sites_root: str = "/srv/ronron/sites"
    # nginx: one server block per service, named ronron-<slug>.conf
    nginx_sites_dir: str = "/etc/nginx/sites-enabled"
    nginx_reload: tuple[str, ...] = ("nginx", "-s", "reload")
    nginx_test: tuple[str, ...] = ("nginx", "-t", "-q")
    nginx_user: str = "www-data"
    http_port: int = 80
    https_port: int = 443
    listen_address: str = ""  # "" = every address; tests use 127.0.0.1
    # PHP-FPM: one pool per PHP service, named ronron-<slug>.conf; sockets in run_dir
    php_fpm_pool_dir: str = "/etc/php/8.2/fpm/pool.d"
    php_fpm_reload: tuple[str, ...] = ("systemctl", "reload", "php8.2-fpm")
    php_fpm_test: tuple[str, ...] = ("php-fpm8.2", "-t")
    run_dir: str = "/run/ronron"
    # MariaDB: administrative client (as root through the unix socket)
    mysql: tuple[str, ...] = ("mysql",)
    mysqldump: tuple[str, ...] = ("mysqldump",)
    # Where PHP sites reach the server (WordPress's DB_HOST is localhost:<this socket>)
    mysql_socket: str = "/run/mysqld/mysqld.sock"
    # Debian's shared WordPress core and its per-host configuration files
    wordpress_core: str = "/usr/share/wordpress"
    wordpress_config_dir: str = "/etc/wordpress"
    php_cli: tuple[str, ...] = ("php",)
    # TLS certificates: <certs_dir>/<slug>/{fullchain.pem,privkey.pem}
    certs_dir: str = "/etc/ronron/certs"
    # Whether Ronron obtains certificates for this server's sites through ACME (HTTP-01: the
    # sites' names must reach this server on http_port). Off: only certificates put in
    # certs_dir by hand are served.
    acme: bool = True
    # The "service suspendu" page and ACME challenges
    suspended_root: str = "/srv/ronron/suspended"
    acme_root: str = "/srv/ronron/acme"
    # Sympa (Debian's package). ``sympa_env`` is given to every Sympa program through
    # ``env`` (the test suite points SYMPA_CONFIG at a private instance); the database is
    # Debian's SQLite one, read directly for subscriber counts ("" = not readable: no counts).
    sympa: tuple[str, ...] = ("/usr/bin/sympa",)
    sympa_env: tuple[str, ...] = ()
    sympa_user: str = "sympa"
    sympa_etc: str = "/etc/sympa"
    sympa_list_data: str = "/var/lib/sympa/list_data"
    sympa_arc: str = "/var/lib/sympa/arc"
    sympa_database: str = "/var/lib/dbconfig-common/sqlite3/sympa/sympa"
    sympa_library: str = "/usr/share/sympa/lib"
    # Exports of lists are staged here before Ronron copies them in.
    sympa_staging: str = "/var/lib/sympa/ronron-exports"
    # Lists re-read their rosters in this many Sympa processes at once (one per core is right:
    # SQLite has one writer, and each process is CPU-bound between its writes).
    sympa_sync_processes: int = 2
    # Nextcloud: where its web server answers (the OCS API is under it), its console tool as
    # the web server's user, its data directory (one directory per account, exported before an
    # account is deleted) and where those exports are staged.
    nextcloud_url: str = ""
    nextcloud_occ: tuple[str, ...] = ("sudo", "-u", "www-data", "php", "/var/www/nextcloud/occ")
    nextcloud_data: str = "/var/www/nextcloud/data"
    nextcloud_staging: str = "/var/lib/ronron-exports"
    # How this server reaches Ronron's roster feed ("" = the configured public_url).
    ronron_url: str = ""

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> Layout:
        known = {f.name: f for f in fields(cls)}
        unknown = set(overrides) - set(known)
        if unknown:
            raise ValueError(f"unknown layout keys: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in overrides.items()
        }
        return cls(**values)
