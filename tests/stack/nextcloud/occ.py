#!/usr/bin/env python3
"""The stand-in Nextcloud's ``occ``: forwards its arguments to the stand-in and answers with
the command's stdout, stderr and exit code, like Nextcloud's console would.

Usage: occ.py --standin URL --token TOKEN [OCC ARGUMENTS...]
"""

from __future__ import annotations

import json
import sys
import urllib.request

CONTROL_PATH = "/__standin/occ"
TOKEN_HEADER = "X-Standin-Token"


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "--standin" or argv[2] != "--token":
        sys.stderr.write("usage: occ.py --standin URL --token TOKEN [ARGUMENTS...]\n")
        return 2
    url, token, occ_args = argv[1], argv[3], argv[4:]
    if not url.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:")):
        sys.stderr.write("occ.py only talks to a stand-in on loopback\n")
        return 2
    request = urllib.request.Request(  # noqa: S310 - loopback http only, checked above
        url.rstrip("/") + CONTROL_PATH,
        data=json.dumps({"argv": occ_args}).encode(),
        headers={TOKEN_HEADER: token, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        result = json.loads(response.read())
    sys.stdout.write(result["stdout"])
    sys.stderr.write(result["stderr"])
    sys.stdout.flush()
    sys.stderr.flush()
    return int(result["exit_code"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
