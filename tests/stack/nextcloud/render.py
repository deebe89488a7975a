"""Response bodies as Nextcloud 27.1 writes them: the app framework's OCS v1/v2 responses, and
the legacy ``OC_API::respond`` that ``ocs/v1.php`` falls back to for login failures and for
anything that escapes the controllers."""

from __future__ import annotations

from dataclasses import dataclass

from tests.stack.nextcloud import php
from tests.stack.nextcloud.php import Php

RESPOND_UNAUTHORISED = 997
RESPOND_SERVER_ERROR = 996
RESPOND_NOT_FOUND = 998
RESPOND_UNKNOWN_ERROR = 999

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: str
    headers: tuple[tuple[str, str], ...] = ()


def _body(fmt: str, meta: dict[str, Php], data: Php) -> str:
    document = {"ocs": {"meta": meta, "data": data}}
    if fmt == "json":
        return php.json_encode(document, hex_tag=True)
    return php.xml_document(document)


def ocs(version: int, fmt: str, code: int, message: str = "", data: Php = None) -> Response:
    """A ``V1Response``/``V2Response``: ``code`` is the status the controller set (200 when it
    returned data, the ``OCSException`` code otherwise)."""
    data = [] if data is None else data
    if version == 1:
        statuscode = 100 if code == 200 else code
        ok = statuscode == 100
        http = 401 if code == RESPOND_UNAUTHORISED else 200
        meta: dict[str, Php] = {
            "status": "ok" if ok else "failure",
            "statuscode": statuscode,
            "message": "OK" if ok else message,
            "totalitems": "",
            "itemsperpage": "",
        }
    else:
        ok = 200 <= code < 300
        if code == RESPOND_UNAUTHORISED:
            http = 401
        elif code == RESPOND_NOT_FOUND:
            http = 404
        elif code in (RESPOND_SERVER_ERROR, RESPOND_UNKNOWN_ERROR):
            http = 500
        elif code < 200 or code > 600:
            http = 400
        else:
            http = code
        meta = {"status": "ok" if ok else "failure", "statuscode": code}
        meta["message"] = "OK" if ok else message
    content_type = JSON if fmt == "json" else "application/xml; charset=utf-8"
    try:
        body = _body(fmt, meta, data)
    except php.XmlNameError:
        return internal_error(version, fmt)
    return Response(http, content_type, body)


def legacy(version: int, fmt: str, code: int, message: str) -> Response:
    """``OC_API::respond``: its own status mapping, and ``text/xml`` for XML."""
    http = 200
    headers: tuple[tuple[str, str], ...] = ()
    if code == RESPOND_UNAUTHORISED:
        http = 401
        headers = (("WWW-Authenticate", 'Basic realm="Authorisation Required"'),)
    statuscode = code
    if version == 2:
        mapped: int | None
        if code == RESPOND_NOT_FOUND:
            mapped = 404
        elif code in (RESPOND_SERVER_ERROR, RESPOND_UNKNOWN_ERROR):
            mapped = 500
        elif code == RESPOND_UNAUTHORISED:
            mapped = None
        elif code == 100:
            mapped = 200
        elif 200 <= code < 600:
            mapped = code
        else:
            mapped = 400
        if mapped is not None:
            statuscode = http = mapped
    meta: dict[str, Php] = {
        "status": "ok" if code == 100 else "failure",
        "statuscode": statuscode,
        "message": message,
    }
    if fmt == "xml":
        content_type = "text/xml; charset=UTF-8"
    elif fmt == "json":
        content_type = JSON
    else:
        content_type = "application/octet-stream; charset=utf-8"
    return Response(http, content_type, _body(fmt, meta, []), headers)


def unauthorised(version: int) -> Response:
    """A login that fails (or a disabled account): always XML, whatever was asked for."""
    return legacy(version, "xml", RESPOND_UNAUTHORISED, "Unauthorised")


def internal_error(version: int, fmt: str) -> Response:
    return legacy(version, fmt, RESPOND_SERVER_ERROR, "Internal Server Error\n")


def csrf_failed() -> Response:
    return Response(412, JSON, php.json_encode({"message": "CSRF check failed"}, hex_tag=True))
