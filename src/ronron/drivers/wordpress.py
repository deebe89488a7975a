"""WordPress sites on Debian's shared core (``/usr/share/wordpress``), one per service.

Debian's ``wp-config.php`` loads ``/etc/wordpress/config-<Host>.php``; each site gets that file
(its database, keys and own ``wp-content``), its own system user, PHP-FPM pool, MariaDB
database and user, and an nginx server block whose root is the shared core and whose
``/wp-content/`` comes from the site's directory. The first admin account is created by a
non-interactive install run as the site's user; its password is a generate-once secret, kept
encrypted until it is handed to the member as a one-time link, then forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.translation import gettext as _

from ronron.drivers import wordpress_admin
from ronron.drivers.base import Observation, Orphan, Step, register
from ronron.drivers.web import archive, mariadb, nginx, phpfpm, sysuser, tls
from ronron.drivers.web.site import Site, limits_from_spec
from ronron.drivers.wordpress_spec import (
    DEFAULT_LANGUAGE,
    validate_wordpress_spec,
)
from ronron.fleet.hosts import HostError

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.layout import Layout
    from ronron.fleet.models import Server
    from ronron.services.models import Service

SALTS = (
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
)
CONTENT_DIRS = (
    "wp-content",
    "wp-content/uploads",
    "wp-content/plugins",
    "wp-content/themes",
    "wp-content/upgrade",
    "tmp",
    "log/php",
)


def _php(value: str) -> str:
    """A PHP single-quoted string literal."""
    if "\x00" in value:
        raise HostError("NUL character in a PHP value")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def config_path(layout: Layout, domain: str) -> str:
    return f"{layout.wordpress_config_dir}/config-{nginx.check_domain(domain)}.php"


def content_dir(site: Site, layout: Layout) -> str:
    return f"{site.root(layout)}/wp-content"


def export_key(service: Service) -> str:
    return f"service-{service.pk}"


class WordPressDriver:
    kind: ClassVar[str] = "wordpress"

    # --- spec -----------------------------------------------------------------------------

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        return validate_wordpress_spec(spec)

    # --- what the site is made of ---------------------------------------------------------

    def site(self, service: Service, layout: Layout, tls: bool = False) -> Site:
        spec = service.spec or {}
        root = f"{layout.sites_root}/{nginx.check_slug(service.slug)}"
        wp_content = nginx.check_path(f"{root}/wp-content")
        return Site(
            slug=service.slug,
            domain=nginx.check_domain(service.domain),
            aliases=tuple(nginx.check_domain(a) for a in spec.get("aliases", [])),
            php=True,
            limits=limits_from_spec(spec),
            suspended=service.wanted_state == "suspended",
            tls=tls,
            document_root=nginx.check_path(layout.wordpress_core),
            extra_locations=(
                # The site's own themes, plugins and uploads; PHP is never run from there.
                "location ^~ /wp-content/ {\n"
                f"    alias {wp_content}/;\n"
                "    location ~ \\.php$ {\n"
                "        return 403;\n"
                "    }\n"
                "}",
            ),
        )

    def _title(self, service: Service) -> str:
        return str((service.spec or {}).get("title") or service.member.name)

    def _admin_email(self, service: Service) -> str:
        email = (service.spec or {}).get("admin_email")
        if email:
            return str(email)
        contact = service.member.contacts.exclude(email="").order_by("pk").first()
        return contact.email if contact else f"webmestre@{service.domain}"

    def render_config(self, service: Service, site: Site, layout: Layout) -> str | None:
        """The site's ``config-<domain>.php``, or None while its secrets do not exist yet."""
        creds = service.credentials or {}
        names = ["db_password", *(f"wp_{s.lower()}" for s in SALTS)]
        if any(name not in creds for name in names):
            return None
        default_port = {"http": layout.http_port, "https": layout.https_port}
        lines = [
            "<?php",
            f"// Managed by Ronron for {site.domain} (site {site.slug}): changes are overwritten.",
            f"define('DB_NAME', {_php(site.database)});",
            f"define('DB_USER', {_php(site.database)});",
            f"define('DB_PASSWORD', {_php(creds['db_password'])});",
            f"define('DB_HOST', {_php('localhost:' + layout.mysql_socket)});",
            "define('DB_CHARSET', 'utf8mb4');",
            "define('DB_COLLATE', '');",
            *(f"define('{s}', {_php(creds['wp_' + s.lower()])});" for s in SALTS),
            "$table_prefix = 'wp_';",
            "$ronron_scheme = (!empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off')"
            " ? 'https' : 'http';",
            f"$ronron_ports = array('http' => {int(default_port['http'])}, "
            f"'https' => {int(default_port['https'])});",
            "$ronron_port = $ronron_ports[$ronron_scheme];",
            f"define('WP_HOME', $ronron_scheme . '://' . {_php(site.domain)}"
            " . (in_array($ronron_port, array(80, 443)) ? '' : ':' . $ronron_port));",
            "define('WP_SITEURL', WP_HOME);",
            # Debian's fastcgi_params pass nginx's $host, without the port: on a port other
            # than 80/443 WordPress would otherwise redirect every page to itself.
            "if (!in_array($ronron_port, array(80, 443)) && isset($_SERVER['HTTP_HOST'])"
            " && strpos($_SERVER['HTTP_HOST'], ':') === false) {",
            "    $_SERVER['HTTP_HOST'] .= ':' . $ronron_port;",
            "}",
            f"define('WP_CONTENT_DIR', {_php(content_dir(site, layout))});",
            "define('WP_CONTENT_URL', WP_HOME . '/wp-content');",
            f"define('WP_LANG_DIR', {_php(layout.wordpress_core + '/wp-content/languages')});",
            f"define('WP_TEMP_DIR', {_php(phpfpm.tmp_dir(site, layout))});",
            "define('AUTOMATIC_UPDATER_DISABLED', true);",
            "define('WP_AUTO_UPDATE_CORE', false);",
            "define('DISALLOW_FILE_EDIT', true);",
            "define('FS_METHOD', 'direct');",
            "",
        ]
        return "\n".join(lines)

    def _alias_config(self, site: Site, layout: Layout) -> str:
        return (
            "<?php\n// Managed by Ronron: an alias of "
            f"{site.domain}.\nrequire {_php(config_path(layout, site.domain))};\n"
        )

    def _pool(self, site: Site, layout: Layout) -> str:
        readable = (
            f"{layout.wordpress_core}/",
            *(config_path(layout, name) for name in site.server_names),
        )
        return phpfpm.render_pool(site, layout, readable=readable)

    def _directories(self, site: Site, layout: Layout) -> list[sysuser.Directory]:
        return sysuser.site_directories(site, layout, extra=CONTENT_DIRS)

    # --- observe --------------------------------------------------------------------------

    def _shared_links(self, host: Host, site: Site) -> list[tuple[str, str]]:
        """(target, link) for every theme and plugin of the shared core, as Debian links
        them into /var/lib/wordpress/wp-content."""
        layout = host.layout
        links = []
        for sub in ("themes", "plugins"):
            source = f"{layout.wordpress_core}/wp-content/{sub}"
            if not host.exists(source):
                continue
            listing = host.run(
                ["find", source, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\n"]
            )
            for name in sorted(listing.stdout.split()):
                if re.fullmatch(r"[A-Za-z0-9._-]+", name):
                    links.append((f"{source}/{name}", f"{content_dir(site, layout)}/{sub}/{name}"))
        index = f"{layout.wordpress_core}/wp-content/index.php"
        if host.exists(index):
            links.append((index, f"{content_dir(site, layout)}/index.php"))
        return links

    def _links_ready(self, host: Host, site: Site) -> bool:
        links = self._shared_links(host, site)
        if not links:
            return True
        out = host.run(["readlink", "--", *(link for _t, link in links)], check=False).stdout
        return out.split("\n")[: len(links)] == [target for target, _l in links]

    def observe(self, service: Service, host: Host) -> Observation:
        layout = host.layout
        site = self.site(service, layout)
        parts: dict[str, Any] = {}
        facts: dict[str, Any] = {}
        user = sysuser.observe_user(host, site.slug)
        parts["system-user"] = user.exists and user.web_in_group
        root_exists = host.exists(site.root(layout))
        parts["files"] = root_exists
        parts["directories"] = user.exists and sysuser.directories_ready(
            host, self._directories(site, layout)
        )
        parts["shared-links"] = parts["directories"] and self._links_ready(host, site)
        db = mariadb.observe(host, site.database)
        parts["database"] = db["database"]
        parts["database-user"] = db["user"]
        password = (service.credentials or {}).get("db_password")
        parts["database-password"] = bool(
            db["user"] and password and mariadb.password_works(host, site.database, password)
        )
        config = self.render_config(service, site, layout)
        main_config = config_path(layout, site.domain)
        parts["config-file"] = host.exists(main_config)
        parts["config"] = bool(
            config is not None
            and parts["config-file"]
            and host.read_file(main_config).decode(errors="replace") == config
            and all(
                host.exists(config_path(layout, alias))
                and host.read_file(config_path(layout, alias)).decode(errors="replace")
                == self._alias_config(site, layout)
                for alias in site.aliases
            )
        )
        parts["php-pool-file"] = host.exists(site.php_pool_conf(layout))
        parts["php-pool"] = phpfpm.pool_matches(host, site, self._pool(site, layout))
        tls_parts, tls_facts = tls.observe(host, site, service.spec or {})
        parts.update(tls_parts)
        facts.update(tls_facts)
        block = nginx.read_server_block(host, site)
        parts["nginx-site-file"] = block is not None
        parts["nginx-site"] = block == nginx.render_server_block(
            self.site(service, layout, tls=parts["tls"]), layout
        )
        parts["nginx-reload-pending"] = nginx.reload_pending(host, site.slug)
        parts["suspended-page"] = nginx.suspended_page_ready(host)
        parts["installed"] = bool(
            parts["config"] and parts["database-password"] and parts["system-user"]
        ) and wordpress_admin.is_installed(host, site)
        exported = archive.verified_export(export_key(service))
        parts["archive"] = exported is not None
        if exported is not None:
            facts["archive"] = str(exported)

        anything = (
            root_exists
            or user.exists
            or db["database"]
            or db["user"]
            or parts["config-file"]
            or parts["php-pool-file"]
            or parts["nginx-site-file"]
        )
        ready = (
            all(
                parts[k]
                for k in (
                    "system-user",
                    "directories",
                    "shared-links",
                    "database",
                    "database-password",
                    "config",
                    "php-pool",
                    "installed",
                )
            )
            and not parts["nginx-reload-pending"]
        )
        if not anything:
            state = "absent"
        elif ready and parts["nginx-site"] and block is not None:
            state = "suspended" if "@ronron_suspended" in block else "present"
        else:
            state = "partial"
        return Observation(state=state, parts=parts, facts=facts)

    # --- plan -----------------------------------------------------------------------------

    def plan(self, service: Service, observed: Observation) -> list[Step]:
        parts = observed.parts
        if service.wanted_state == "absent":
            return self._plan_absent(service, observed)
        steps: list[Step] = []
        slug = service.slug
        database = "wp_" + slug.replace("-", "_")

        def step(key: str, description: str, run: Any) -> None:
            steps.append(Step(key, description, run))

        if not parts.get("system-user"):
            step(
                "system-user",
                _("create the system user site-%(slug)s") % {"slug": slug},
                lambda host: sysuser.ensure_user(host, self.site(service, host.layout)),
            )
        if not parts.get("directories") or not parts.get("shared-links"):
            step(
                "directories",
                _("create the site's folders (wp-content, uploads)"),
                lambda host: self._make_directories(host, service),
            )
        if not parts.get("database") or not parts.get("database-password"):
            step(
                "database",
                _("create the database %(name)s and its user") % {"name": database},
                lambda host: self._make_database(host, service),
            )
        if not parts.get("config"):
            step(
                "wordpress-config",
                _("write the WordPress configuration of %(domain)s") % {"domain": service.domain},
                lambda host: self._write_config(host, service),
            )
        if not parts.get("php-pool"):
            step(
                "php-pool",
                _("write the PHP-FPM pool of %(slug)s") % {"slug": slug},
                lambda host: self._write_pool(host, service),
            )
        suspended = service.wanted_state == "suspended"
        if suspended and not parts.get("suspended-page"):
            step(
                "suspended-page",
                _("put the « service suspendu » page in place"),
                nginx.write_suspended_page,
            )
        if not parts.get("nginx-site"):
            step(
                "nginx-site",
                (
                    _("show the « service suspendu » page for %(domain)s")
                    if suspended
                    else _("write the web server configuration of %(domain)s")
                )
                % {"domain": service.domain},
                lambda host: nginx.write_server_block(
                    host, self.site(service, host.layout, tls=bool(parts.get("tls")))
                ),
            )
        if not parts.get("nginx-site") or parts.get("nginx-reload-pending"):
            step("nginx-reload", _("reload the web server"), lambda host: nginx.reload(host, slug))
        if not parts.get("installed"):
            step(
                "wordpress-install",
                _("install WordPress and create its administrator account"),
                lambda host: self._install(host, service),
            )
        # Last: a certificate authority out of reach does not hold the site back.
        for key, description, run in tls.steps(
            Site(slug, service.domain), parts, lambda host: self.site(service, host.layout)
        ):
            step(key, description, run)
        return steps

    def _plan_absent(self, service: Service, observed: Observation) -> list[Step]:
        parts = observed.parts
        if observed.state == "absent":
            return []
        slug = service.slug
        steps: list[Step] = []
        if parts.get("nginx-site-file") or parts.get("nginx-reload-pending"):
            steps.append(
                Step(
                    "nginx-remove",
                    _("take %(domain)s offline") % {"domain": service.domain},
                    lambda host: self._offline(host, service),
                )
            )
        if parts.get("php-pool-file"):
            steps.append(
                Step(
                    "php-pool-remove",
                    _("remove the PHP-FPM pool of %(slug)s") % {"slug": slug},
                    lambda host: phpfpm.remove_pool(host, self.site(service, host.layout)),
                )
            )
        if not parts.get("archive"):
            steps.append(
                Step(
                    "export",
                    _("archive the site's files and database, and check the archive"),
                    lambda host: self._export_for_removal(host, service),
                )
            )
        steps.append(
            Step(
                "remove",
                _("remove the database, the files and the user site-%(slug)s (the archive is kept)")
                % {"slug": slug},
                lambda host: self._remove(host, service),
            )
        )
        return steps

    # --- steps ----------------------------------------------------------------------------

    def _make_directories(self, host: Host, service: Service) -> str:
        site = self.site(service, host.layout)
        host.run(["mkdir", "-p", "-m", "0755", host.layout.sites_root])
        out = sysuser.ensure_directories(host, self._directories(site, host.layout))
        for target, link in self._shared_links(host, site):
            host.run(["ln", "-sfn", "--", target, link])
        return out + "; shared themes and plugins linked"

    def _make_database(self, host: Host, service: Service) -> str:
        from ronron.services.credentials import secret

        site = self.site(service, host.layout)
        return mariadb.ensure(host, site.database, secret(service, "db_password"))

    def _write_config(self, host: Host, service: Service) -> str:
        from ronron.services.credentials import secret

        for name in SALTS:
            secret(service, f"wp_{name.lower()}", length=48)
        secret(service, "db_password")
        layout = host.layout
        site = self.site(service, layout)
        config = self.render_config(service, site, layout)
        assert config is not None
        host.run(["mkdir", "-p", "-m", "0755", layout.wordpress_config_dir])
        # Only the site's own PHP (its group) may read its database password.
        host.write_file(config_path(layout, site.domain), config, 0o640, "root", site.user)
        for alias in site.aliases:
            host.write_file(
                config_path(layout, alias),
                self._alias_config(site, layout),
                0o640,
                "root",
                site.user,
            )
        return f"wrote {config_path(layout, site.domain)}"

    def _write_pool(self, host: Host, service: Service) -> str:
        site = self.site(service, host.layout)
        return phpfpm.write_pool(host, site, self._pool(site, host.layout))

    def _install(self, host: Host, service: Service) -> str:
        from ronron.services.credentials import secret

        site = self.site(service, host.layout)
        # Planned when another part was missing (a configuration to rewrite) although the site
        # is installed: a password made now would be handed over but would not be the site's.
        if wordpress_admin.is_installed(host, site):
            return "WordPress already installed; administrator account unchanged"
        spec = service.spec or {}
        account = {
            "title": self._title(service),
            "user": wordpress_admin.admin_login(service),
            "email": self._admin_email(service),
            "password": secret(service, wordpress_admin.HANDED_OVER),
            "language": spec.get("language") or DEFAULT_LANGUAGE,
        }
        return wordpress_admin.install(host, site, account)

    # --- the administrator's credentials, handed to the member (services/handover.py) -----

    def credentials_to_hand_over(self, service: Service) -> dict[str, str] | None:
        return wordpress_admin.credentials_to_hand_over(service)

    def reset_credentials(self, service: Service, host: Host, password: str) -> str:
        site = self.site(service, host.layout)
        wordpress_admin.set_admin_password(
            host, site, wordpress_admin.admin_login(service), password
        )
        return wordpress_admin.HANDED_OVER

    def _offline(self, host: Host, service: Service) -> str:
        site = self.site(service, host.layout)
        out = nginx.remove_server_block(host, site)
        return out + "; " + nginx.reload(host, site.slug)

    def export(self, service: Service, host: Host, directory: Path | None = None) -> Path:
        """The site's files and a SQL dump of its database, in one archive read back before
        it counts (see ``archive.export_site``)."""
        with self._database_dump(service, host) as dump:
            return archive.export_site(
                host,
                self.site(service, host.layout),
                member_number=service.member.number,
                kind=self.kind,
                dump=dump,
                directory=directory,
            )

    def _export_for_removal(self, host: Host, service: Service) -> str:
        """Once per removal: a rerun after a crash keeps the first complete archive."""
        with self._database_dump(service, host) as dump:
            path, made = archive.export_once(
                export_key(service),
                host,
                self.site(service, host.layout),
                member_number=service.member.number,
                kind=self.kind,
                dump=dump,
            )
        return f"exported and verified: {path}" if made else f"already exported: {path}"

    @contextmanager
    def _database_dump(self, service: Service, host: Host) -> Iterator[str]:
        layout = host.layout
        site = self.site(service, layout)
        staging = f"{layout.sites_root}/{archive.STAGING}/{site.slug}-db"
        host.run(["rm", "-rf", "--", staging])
        host.run(["mkdir", "-p", "-m", "0700", staging])
        dump = f"{staging}/database.sql"
        try:
            if mariadb.observe(host, site.database)["database"]:
                mariadb.dump(host, site.database, dump)
            else:
                host.write_file(dump, "-- no database was left to export\n", 0o600)
            yield dump
        finally:
            host.run(["rm", "-rf", "--", staging], check=False)

    def _remove(self, host: Host, service: Service) -> str:
        layout = host.layout
        site = self.site(service, layout)
        # The rule: nothing is deleted before its export is verified.
        if archive.verified_export(export_key(service)) is None:
            raise HostError("no verified archive of this site: nothing removed")
        done = [mariadb.drop(host, site.database)]
        for name in site.server_names:
            host.run(["rm", "-f", "--", config_path(layout, name)])
        host.run(["rm", "-rf", "--", site.root(layout)])
        done.append(f"removed {site.root(layout)}")
        done.append(tls.remove_certificate(host, site.slug))
        done.append(sysuser.remove_user(host, site.slug))
        return "; ".join(done)

    # --- orphans --------------------------------------------------------------------------

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]:
        from ronron.services.models import Service

        layout = host.layout
        claimed_dbs = {"wp_" + slug.replace("-", "_") for slug in claimed}
        # Pools and files of the other kinds are theirs to claim (a static site has no pool).
        other = set(
            Service.objects.filter(server=server, managed=True, removed_at__isnull=True)
            .exclude(kind=self.kind)
            .values_list("slug", flat=True)
        )
        found = [
            Orphan(self.kind, "php-fpm-pool", slug)
            for slug in phpfpm.list_pools(host)
            if slug not in claimed and slug not in other
        ]
        names = mariadb.list_names(host)
        found += [
            Orphan(self.kind, "database", n) for n in names["database"] if n not in claimed_dbs
        ]
        found += [
            Orphan(self.kind, "database-user", n) for n in names["user"] if n not in claimed_dbs
        ]
        domains = set(
            Service.objects.filter(
                server=server, managed=True, removed_at__isnull=True
            ).values_list("domain", flat=True)
        )
        for spec in Service.objects.filter(
            server=server, managed=True, removed_at__isnull=True, kind=self.kind
        ).values_list("spec", flat=True):
            domains.update((spec or {}).get("aliases", []))
        directory = layout.wordpress_config_dir
        if host.exists(directory):
            listing = host.run(
                ["find", directory, "-maxdepth", "1", "-name", "config-*.php", "-printf", "%f\n"]
            )
            for name in listing.stdout.split():
                domain = name[len("config-") : -len(".php")]
                if domain not in domains and domain != "default":
                    found.append(Orphan(self.kind, "config-file", name))
        return found


register(WordPressDriver())
