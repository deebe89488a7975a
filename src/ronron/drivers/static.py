"""Static web sites: a system user, a document root the member fills, an nginx server block.

Spec: ``{"aliases": ["www.monasso.fr"], "limits": {"requests_per_second": 50, ...}}``, and
``"tls": false`` for a site that must stay on plain HTTP (HTTPS through ACME otherwise, see
``web/tls.py``).
Suspended: every request answers 503 with the shared French « service suspendu » page; the
site's files stay as they are. Absent: the site is exported to a verified archive in the data
directory, then removed; every removal step checks that archive first.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import idna
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ronron.drivers.base import Observation, Orphan, Step, register
from ronron.drivers.web import archive, nginx, sysuser, tls
from ronron.drivers.web.nginx import check_path
from ronron.drivers.web.site import Site, limits_from_spec
from ronron.drivers.web.spec import validate_aliases, validate_limits

if TYPE_CHECKING:
    from ronron.fleet.hosts import Host
    from ronron.fleet.models import Server
    from ronron.services.models import Service


def _welcome_page(domain: str) -> str:
    try:
        shown = idna.decode(domain)
    except idna.IDNAError:
        shown = domain
    name = html.escape(shown)
    return f"""<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
</head>
<body>
<main>
<h1>Bienvenue sur {name}</h1>
<p>Ce site est prêt. Déposez vos fichiers pour remplacer cette page.</p>
</main>
</body>
</html>
"""


class StaticDriver:
    kind: ClassVar[str] = "static"

    # --- truth ---------------------------------------------------------------------------------

    def validate_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ValidationError(_("The settings of a site are a set of named values."))
        unknown = set(spec) - {"aliases", "limits", "tls"}
        if unknown:
            raise ValidationError(
                _("Unknown setting: %(keys)s.")
                % {"keys": ", ".join(sorted(str(k)[:50] for k in unknown))},
                code="unknown_setting",
            )
        clean: dict[str, Any] = {}
        aliases = validate_aliases(spec.get("aliases"))
        if aliases:
            clean["aliases"] = aliases
        limits = validate_limits(spec.get("limits"))
        if limits:
            clean["limits"] = limits
        if not tls.validate_tls(spec.get("tls")):
            clean["tls"] = False
        return clean

    def site(self, service: Service, *, tls: bool = False) -> Site:
        aliases = tuple(a for a in service.spec.get("aliases", []) if a != service.domain)
        return Site(
            slug=service.slug,
            domain=service.domain,
            aliases=aliases,
            limits=limits_from_spec(service.spec),
            suspended=service.wanted_state == "suspended",
            tls=tls,
        )

    # --- reality --------------------------------------------------------------------------------

    def observe(self, service: Service, host: Host) -> Observation:
        layout = host.layout
        site = self.site(service)
        user = sysuser.observe_user(host, site.slug)
        root = site.root(layout)
        root_exists = host.exists(root)
        htdocs = site.htdocs(layout)
        htdocs_exists = root_exists and host.exists(htdocs)
        tls_parts, tls_facts = tls.observe(host, site, service.spec or {})
        conf = nginx.read_server_block(host, site)
        mode: str | None = None
        if conf is not None:
            active = replace(site, suspended=False, tls=tls_parts["tls"])
            if conf == nginx.render_server_block(active, layout):
                mode = "present"
            elif conf == nginx.render_server_block(replace(active, suspended=True), layout):
                mode = "suspended"
            else:
                mode = "stale"
        parts: dict[str, Any] = {
            "system-user": user.exists,
            "web-server-in-group": user.web_in_group,
            "files": root_exists,
            "directories": user.exists
            and root_exists
            and sysuser.directories_ready(host, sysuser.site_directories(site, layout)),
            "htdocs-empty": (not htdocs_exists) or sysuser.is_empty_directory(host, htdocs),
            "nginx-site": mode,
            "reload-pending": nginx.reload_pending(host, site.slug),
            "suspended-page": nginx.suspended_page_ready(host),
            **tls_parts,
        }
        facts: dict[str, Any] = dict(tls_facts)
        exported = archive.recorded_export(self._export_key(service))
        if exported:
            facts["archive"] = exported["archive"]
        if not user.exists and not root_exists and conf is None:
            state = "absent"
        elif (
            user.exists
            and user.web_in_group
            and parts["directories"]
            and not parts["reload-pending"]
            and (mode == "present" or (mode == "suspended" and parts["suspended-page"]))
        ):
            state = mode or "partial"
        else:
            state = "partial"
        return Observation(state, parts, facts)

    # --- plan ------------------------------------------------------------------------------------

    def plan(self, service: Service, observed: Observation) -> list[Step]:
        parts = observed.parts
        site = self.site(service, tls=bool(parts.get("tls")))
        prefix = f"static:{site.slug}"
        steps: list[Step] = []

        def step(key: str, description: str, run: Any) -> None:
            steps.append(Step(f"{prefix}:{key}", description, run))

        if service.wanted_state == "absent":
            return self._removal_plan(service, site, parts, step, steps)

        if not parts.get("system-user") or not parts.get("web-server-in-group"):
            step(
                "system-user",
                _("create system user %(user)s") % {"user": site.user},
                lambda host: sysuser.ensure_user(host, site),
            )
        if not parts.get("directories"):
            step(
                "directories",
                _("create the site's directories"),
                lambda host: sysuser.ensure_directories(
                    host, sysuser.site_directories(site, host.layout)
                ),
            )
        # Only while the site is being made: a member who empties a live site keeps it empty.
        if parts.get("htdocs-empty") and parts.get("nginx-site") is None:
            step("welcome-page", _("write a welcome page"), lambda host: self._welcome(host, site))
        write_nginx = False
        if site.suspended:
            if not parts.get("suspended-page"):
                step("suspended-page", _("write suspended page"), nginx.write_suspended_page)
            if parts.get("nginx-site") != "suspended":
                write_nginx = True
                step(
                    "nginx-site",
                    _("switch nginx to the “service suspendu” page"),
                    lambda host: nginx.write_server_block(host, site),
                )
        elif parts.get("nginx-site") != "present":
            write_nginx = True
            step(
                "nginx-site",
                _("write nginx server block for %(domain)s") % {"domain": site.domain},
                lambda host: nginx.write_server_block(host, site),
            )
        if write_nginx or parts.get("reload-pending"):
            step("nginx-reload", _("reload nginx"), lambda host: nginx.reload(host, site.slug))
        for key, description, run in tls.steps(site, parts, lambda host: site):
            step(key, description, run)
        return steps

    def _removal_plan(
        self, service: Service, site: Site, parts: dict[str, Any], step: Any, steps: list[Step]
    ) -> list[Step]:
        key = self._export_key(service)

        def guarded(action: Any) -> Any:
            def run(host: Host) -> str:
                self._require_export(host, site, key)
                return str(action(host))

            return run

        if parts.get("files"):
            step(
                "export",
                _("export the site to an archive and verify it"),
                lambda host: self._export_once(service, host, site, key),
            )
        if parts.get("nginx-site") is not None:
            step(
                "nginx-remove",
                _("remove nginx server block"),
                guarded(lambda host: nginx.remove_server_block(host, site)),
            )
        if parts.get("nginx-site") is not None or parts.get("reload-pending"):
            step("nginx-reload", _("reload nginx"), lambda host: nginx.reload(host, site.slug))
        if parts.get("files"):
            step(
                "files-remove",
                _("remove the site's files"),
                guarded(lambda host: self._remove_files(host, site)),
            )
        if parts.get("system-user"):
            step(
                "system-user-remove",
                _("remove system user %(user)s") % {"user": site.user},
                guarded(lambda host: sysuser.remove_user(host, site.slug)),
            )
        if service.removed_at is None:
            step(
                "record-removal",
                _("record the removal and where its archive is"),
                guarded(lambda host: self._record_removal(service, key)),
            )
        return steps

    # --- steps -----------------------------------------------------------------------------------

    @staticmethod
    def _export_key(service: Service) -> str:
        return f"service-{service.pk}"

    def _welcome(self, host: Host, site: Site) -> str:
        htdocs = site.htdocs(host.layout)
        # Checked again now: the member's files are never overwritten.
        if not sysuser.is_empty_directory(host, htdocs):
            return f"{htdocs} is not empty: left as it is"
        host.write_file(
            f"{htdocs}/index.html",
            _welcome_page(site.domain),
            sysuser.FILE_MODE,
            owner=site.user,
            group=site.user,
        )
        return f"wrote {htdocs}/index.html"

    def _export_once(self, service: Service, host: Host, site: Site, key: str) -> str:
        # After a crash, the first complete archive stays the reference (the files may
        # already be half removed); an unfinished one is discarded and made again.
        path, made = archive.export_once(
            key, host, site, member_number=service.member.number, kind=service.kind
        )
        return f"exported and verified: {path}" if made else f"already exported: {path}"

    def _require_export(self, host: Host, site: Site, key: str) -> None:
        if archive.verified_export(key) is not None:
            return
        if not host.exists(site.root(host.layout)):
            return  # nothing of the member's is left to lose
        raise archive.ArchiveError(
            f"refusing to remove {site.domain}: no verified archive of its files"
        )

    def _remove_files(self, host: Host, site: Site) -> str:
        root = check_path(site.root(host.layout))
        host.run(["rm", "-rf", "--one-file-system", root])
        return f"removed {root}; {tls.remove_certificate(host, site.slug)}"

    def _record_removal(self, service: Service, key: str) -> str:
        from ronron.services.actions import record_removal

        exported = archive.recorded_export(key)
        path = str(exported["archive"]) if exported else ""
        record_removal(service, archive_path=path)
        service.archive_path = path
        return f"removed; archive: {path or '(nothing to archive)'}"

    # --- export and orphans ----------------------------------------------------------------------

    def export(self, service: Service, host: Host, directory: Path) -> Path:
        return archive.export_site(
            host,
            self.site(service),
            member_number=service.member.number,
            kind=service.kind,
            directory=directory,
        )

    def orphans(self, server: Server, host: Host, claimed: set[str]) -> list[Orphan]:
        """nginx blocks, ``site-*`` users and site directories no live web service claims.
        Every web kind (static, wordpress…) shares these, so the claim covers them all; the
        kind-specific parts (pools, databases) are reported by their drivers."""
        from ronron.services.models import Service

        claimed = set(claimed) | set(
            Service.objects.filter(
                server=server, managed=True, removed_at__isnull=True
            ).values_list("slug", flat=True)
        )
        layout = host.layout
        found: list[Orphan] = []
        for slug in nginx.site_files(host):
            if slug not in claimed:
                path = f"{layout.nginx_sites_dir}/ronron-{slug}.conf"
                found.append(Orphan(self.kind, "nginx-site", slug, {"path": path}))
        for slug in sysuser.list_site_users(host):
            if slug not in claimed:
                found.append(Orphan(self.kind, "system-user", f"site-{slug}"))
        for name in sysuser.list_site_directories(host):
            if name not in claimed:
                path = f"{layout.sites_root}/{name}"
                found.append(Orphan(self.kind, "directory", name, {"path": path}))
        return found


register(StaticDriver())
