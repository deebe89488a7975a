"""A stand-in Nextcloud 27.1 for the driver tests: the OCS provisioning API over HTTP on
loopback, and ``occ`` through a token-protected control endpoint.

No Nextcloud can run here; this server implements what the recorded exchanges in
``tests/fixtures/nextcloud-27/`` show a real one doing, and
``tests/drivers/nextcloud/test_standin_replay.py`` replays every one of them against it.
A request goes through the same steps as in Nextcloud: basic-auth login (with the brute-force
throttle), routing, the security middleware (login, admin, CSRF), the provisioning API's
sub-admin check, the controller, then the OCS response.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.stack.nextcloud import occ_commands, ocs, php, render
from tests.stack.nextcloud.php import Php
from tests.stack.nextcloud.render import Response
from tests.stack.nextcloud.state import (
    VERSION,
    VERSION_STRING,
    NextcloudState,
    OcsError,
    User,
)

OCC_SCRIPT = Path(__file__).with_name("occ.py")
CONTROL_PATH = "/__standin/occ"
TOKEN_HEADER = "X-Standin-Token"
_OCS_PATH = re.compile(r"^/ocs/v([12])\.php(/.*)?$")


class NextcloudStandIn:
    def __init__(
        self,
        data_dir: Path,
        admin_user: str = "admin",
        admin_password: str = "Adm1n-Passw0rd-2026",  # noqa: S107 - a test server's
        apps_available: dict[str, str] | None = None,
        delay_scale: float = 0.0,
        storage_location_root: str | None = None,
        *,
        disk_free: int | None = None,
        cli_url: str | None = None,
    ) -> None:
        """``disk_free`` fixes the free space reported for unlimited quotas (default: the real
        free space of ``data_dir``); ``cli_url`` is Nextcloud's ``overwrite.cli.url``, which
        ``occ`` uses for cloud ids (default: the stand-in's own URL)."""
        self.data_dir = Path(data_dir)
        self.delay_scale = delay_scale
        self.state = NextcloudState(
            data_dir=self.data_dir,
            storage_location_root=storage_location_root or str(self.data_dir),
            admin_user=admin_user,
            admin_password=admin_password,
            apps_available=dict(apps_available or {}),
            disk_free=disk_free,
        )
        self._cli_url = cli_url
        self._token = secrets.token_urlsafe(24)
        self._requests: list[tuple[str, str, str | None, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll so that stop() does not wait half a second.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def occ_argv(self) -> list[str]:
        return [sys.executable, str(OCC_SCRIPT), "--standin", self.url, "--token", self._token]

    # ---- test hooks (the driver never uses them) ---------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str, str | None, int]]:
        with self.state.lock:
            return list(self._requests)

    def reset_bruteforce(self, ip: str) -> None:
        with self.state.lock:
            self.state.reset_attempts(ip)

    def fail_create_after_user(self, userid: str) -> None:
        with self.state.lock:
            self.state.fail_create_for.add(userid.lower())

    def set_used(self, userid: str, used: int) -> None:
        """Files of that size are in the user's home. Nextcloud only reports a used size once
        it has set the home up (first login, or a files scan, which is what this amounts to), so
        the user's quota then has its set-up shape ``free/used/total/relative/quota``."""
        with self.state.lock:
            user = self._existing(userid)
            user.used = used
            user.storage_ready = True

    def login(self, userid: str) -> None:
        with self.state.lock:
            self.state.record_login(self._existing(userid))

    def set_enabled(self, userid: str, enabled: bool) -> None:
        """What an operator's ``occ user:disable``/``user:enable`` would do."""
        with self.state.lock:
            self._existing(userid).enabled = enabled

    def set_clock(self, epoch_seconds: float | None) -> None:
        with self.state.lock:
            self.state.clock = epoch_seconds

    def user(self, userid: str) -> dict[str, Any] | None:
        """The user as the API shows it to an administrator (``quota`` is ``{"quota": bytes or
        "none", "used": …}``), plus its ``password``; ``None`` if there is no such user."""
        with self.state.lock:
            user = self.state.get_user(userid)
            if user is None:
                return None
            record = ocs.describe_user(self.state, user, as_admin=True, include_scopes=False)
            return copy.deepcopy(record) | {"password": user.password}

    def group_members(self, gid: str) -> list[str] | None:
        with self.state.lock:
            if gid not in self.state.groups:
                return None
            return [user.uid for user in self.state.members(gid)]

    def app_enabled(self, app_id: str) -> str | list[str]:
        with self.state.lock:
            value = self.state.app_enabled_value(app_id)
        return value if value in ("yes", "no") else json.loads(value)

    def _existing(self, userid: str) -> User:
        user = self.state.get_user(userid)
        if user is None:
            raise KeyError(userid)
        return user

    # ---- requests ----------------------------------------------------------------------------

    def handle(self, request: _Request) -> Response:
        if request.path == CONTROL_PATH:
            return self._control(request)
        if request.path == "/status.php" and request.method == "GET":
            return Response(200, "application/json", php.json_encode(_status()))
        found = _OCS_PATH.match(request.path)
        if found is None:
            return Response(404, "text/plain; charset=utf-8", "Not Found\n")
        version = int(found.group(1))
        user: User | None = None
        response = None
        credentials = request.basic_auth()
        if credentials is not None:
            user, response = self._log_in(version, request, *credentials)
        if response is None:
            response = self._dispatch(version, found.group(2) or "/", request, user)
        entry = (request.method, request.path, user.uid if user else None, response.status)
        with self.state.lock:
            self._requests.append(entry)
        return response

    def _log_in(
        self, version: int, request: _Request, login: str, password: str
    ) -> tuple[User | None, Response | None]:
        """``Session::logClientIn``: wait out the throttle (or give up past its maximum), check
        the password (or an e-mail address), count a failure against the client's address."""
        state, ip = self.state, request.client_ip
        with state.lock:
            if state.blocked(ip):
                return None, render.internal_error(version, request.format_param())
            delay = state.delay_ms(ip)
        self._sleep(delay)
        with state.lock:
            user = state.check_password(login, password)
            if user is None and php.is_email(login):
                owners = state.users_with_email(login)
                if len(owners) == 1:
                    user = state.check_password(owners[0].uid, password)
            if user is not None:
                if not user.enabled:
                    return None, render.unauthorised(version)
                state.record_login(user)
                return user, None
            state.register_attempt(ip)
            after = state.delay_ms(ip) if delay == 0 else 0
        self._sleep(after)
        return None, render.unauthorised(version)

    def _sleep(self, delay_ms: int) -> None:
        if delay_ms and self.delay_scale:
            time.sleep(delay_ms / 1000 * self.delay_scale)

    def _dispatch(self, version: int, path: str, request: _Request, user: User | None) -> Response:
        # Symfony's matcher works on the decoded path.
        matched = ocs.match(request.method, php.rawurldecode(path))
        if isinstance(matched, str):
            fmt = request.query.get("format")
            fmt = fmt if fmt in ("json", "xml") else "xml"
            content_type = render.JSON if fmt == "json" else "text/xml; charset=UTF-8"
            return Response(int(matched), content_type, "")
        route, url_params = matched
        fmt = request.response_format()
        admin = user is not None and self.state.is_admin(user)
        if not route.public:
            if user is None:
                return render.ocs(version, fmt, 997, "Current user is not logged in")
            if not route.no_admin and not admin:
                return render.ocs(version, fmt, 403, "Logged in user must be an admin")
        if not request.passes_csrf():
            return render.csrf_failed()
        if route.provisioning and not admin and not route.no_subadmin:
            return render.ocs(version, fmt, 403, "Logged in user must be at least a sub admin")
        call = ocs.Call(
            state=self.state,
            user=user,
            params=ocs.Params(request.params),
            url=url_params,
            base_url=f"http://{request.host or urlsplit(self.url).netloc}",
            remote_ip=request.client_ip,
        )
        try:
            with self.state.lock:
                data = route.handler(call)
        except OcsError as error:
            return render.ocs(version, fmt, error.code, error.message)
        except Exception:
            # Whatever a controller does not turn into an OCS answer ends in ocs/v1.php's
            # catch-all (InternalError, and the state's own exceptions left uncaught).
            return render.internal_error(version, request.format_param())
        return render.ocs(version, fmt, 200, "", data)

    def _control(self, request: _Request) -> Response:
        supplied = request.headers.get(TOKEN_HEADER.lower(), "")
        if request.method != "POST" or not secrets.compare_digest(supplied, self._token):
            return Response(403, "text/plain; charset=utf-8", "Forbidden\n")
        try:
            argv = json.loads(request.body)["argv"]
        except (ValueError, KeyError, TypeError):
            return Response(400, "text/plain; charset=utf-8", "Bad Request\n")
        if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
            return Response(400, "text/plain; charset=utf-8", "Bad Request\n")
        cli_url = self._cli_url or self.url
        with self.state.lock:
            exit_code, stdout, stderr = occ_commands.run(self.state, argv, cli_url)
        result = {"exit_code": exit_code, "stdout": stdout, "stderr": stderr}
        return Response(200, "application/json", json.dumps(result))


def _status() -> dict[str, Php]:
    return {
        "installed": True,
        "maintenance": False,
        "needsDbUpgrade": False,
        "version": VERSION,
        "versionstring": VERSION_STRING,
        "edition": "",
        "productname": "Nextcloud",
        "extendedSupport": False,
    }


class _Request:
    """What the stand-in reads from an HTTP request, with Nextcloud's parameter rules."""

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes, ip: str):
        parts = urlsplit(target)
        self.method = method
        self.path = parts.path
        self.headers = headers
        self.body = body
        self.client_ip = ip
        self.host = headers.get("host", "")
        self.query = php.parse_str(parts.query)
        self.params: dict[str, Php] = dict(self.query)
        if method != "GET" and body:
            self.params |= self._body_params()

    def _body_params(self) -> dict[str, Php]:
        content_type = self.headers.get("content-type", "")
        text = self.body.decode("utf-8", errors="replace")
        if "application/json" in content_type:
            try:
                decoded = json.loads(text)
            except ValueError:
                return {}
            return decoded if isinstance(decoded, dict) else {}
        if "application/x-www-form-urlencoded" in content_type:
            return php.parse_str(text)
        return {}

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        login, _, password = decoded.partition(":")
        # PHP's empty(): "" and "0" are no credentials at all.
        if php.php_empty(login) or php.php_empty(password):
            return None
        return login, password

    def format_param(self) -> str:
        value = self.params.get("format", "xml")
        return value if isinstance(value, str) else "xml"

    def response_format(self) -> str:
        value = self.params.get("format")
        if value is not None:
            return value if isinstance(value, str) else "xml"
        for accepted in self.headers.get("accept", "").split(","):
            responder = accepted.strip().lower().replace("application/", "")
            if responder in ("json", "xml"):
                return responder
        return "xml"

    def passes_csrf(self) -> bool:
        return self.headers.get("ocs-apirequest") == "true" or self.headers.get(
            "authorization", ""
        ).startswith("Bearer ")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = _Request(self.command, self.path, headers, body, self.client_address[0])
        standin: NextcloudStandIn = self.server.standin  # type: ignore[attr-defined]
        response = standin.handle(request)
        payload = response.body.encode("utf-8")
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request line can carry a user's password (never log secrets)."""
