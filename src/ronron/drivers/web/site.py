"""What the web building blocks need to know about one site, whatever its kind.

The static and WordPress drivers build a ``Site`` from a service and hand it to the blocks
(``sysuser``, ``nginx``, ``phpfpm``, ``mariadb``, ``archive``), which know nothing of services.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ronron.fleet.layout import Layout


@dataclass(frozen=True)
class Limits:
    """Per-site limits, so that a flood on one site does not take the others down."""

    # nginx
    requests_per_second: int = 20
    burst: int = 40
    connections_per_client: int = 20
    client_max_body_mb: int = 64
    # PHP-FPM (PHP sites only)
    php_workers: int = 5
    php_memory_limit_mb: int = 256
    php_request_timeout_s: int = 60
    php_upload_max_mb: int = 64


# Allowed range of each limit a service may override in its spec ("limits": {...}).
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "requests_per_second": (1, 1000),
    "burst": (0, 5000),
    "connections_per_client": (1, 1000),
    "client_max_body_mb": (1, 2048),
    "php_workers": (1, 50),
    "php_memory_limit_mb": (32, 2048),
    "php_request_timeout_s": (5, 600),
    "php_upload_max_mb": (1, 2048),
}
NGINX_LIMITS = ("requests_per_second", "burst", "connections_per_client", "client_max_body_mb")


def limits_from_spec(spec: dict[str, object]) -> Limits:
    """The site's limits: defaults, then the overrides of a spec already validated."""
    overrides = spec.get("limits") or {}
    assert isinstance(overrides, dict)
    return replace(Limits(), **{k: int(v) for k, v in overrides.items() if k in LIMIT_RANGES})


@dataclass(frozen=True)
class Site:
    slug: str  # validated: [a-z0-9-], ≤ 24 characters
    domain: str  # IDNA (ASCII) form
    aliases: tuple[str, ...] = ()
    php: bool = False
    limits: Limits = field(default_factory=Limits)
    suspended: bool = False
    tls: bool = False  # a certificate exists for it: serve HTTPS and redirect HTTP
    # Served files, when not <root>/htdocs (WordPress: Debian's shared core).
    document_root: str = ""
    # nginx ``location`` blocks written by a driver (never from user input), added to the
    # server block as they are: WordPress serves its per-site wp-content through one.
    extra_locations: tuple[str, ...] = ()

    @property
    def user(self) -> str:
        """The site's system user (and group)."""
        return f"site-{self.slug}"

    def root(self, layout: Layout) -> str:
        return f"{layout.sites_root}/{self.slug}"

    def htdocs(self, layout: Layout) -> str:
        return f"{self.root(layout)}/htdocs"

    def served_root(self, layout: Layout) -> str:
        return self.document_root or self.htdocs(layout)

    def php_socket(self, layout: Layout) -> str:
        return f"{layout.run_dir}/php-{self.slug}.sock"

    def nginx_conf(self, layout: Layout) -> str:
        return f"{layout.nginx_sites_dir}/ronron-{self.slug}.conf"

    def php_pool_conf(self, layout: Layout) -> str:
        return f"{layout.php_fpm_pool_dir}/ronron-{self.slug}.conf"

    @property
    def database(self) -> str:
        """Database and database user name (MariaDB names: ≤ 64 and ≤ 80 characters)."""
        return "wp_" + self.slug.replace("-", "_")

    @property
    def server_names(self) -> tuple[str, ...]:
        return (self.domain, *self.aliases)
