"""Two WordPress sites on one server: site A's PHP cannot reach site B's configuration or
database, and a flood on site A leaves site B answering."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ronron.drivers.wordpress import config_path
from ronron.fleet.hosts import host_for
from tests.drivers.wpstack import (
    Browser,
    WordPressStack,
    converge,
    new_site,
    wait_for_page,
)

PROBE = """<?php
// A hostile plugin in site A: what can it reach of site B?
if (isset($_GET['ronron_probe'])) {
    $try = function ($path) { return @file_get_contents($path) === false ? 'refused' : 'read'; };
    mysqli_report(MYSQLI_REPORT_OFF);
    $db = function ($user, $password) {
        $link = @mysqli_connect('localhost', $user, $password, 'wp_t_tilleul', 0, '%(socket)s');
        return $link ? 'connected' : 'refused';
    };
    header('Content-Type: application/json');
    echo json_encode(array(
        'own_config' => $try('%(a_config)s'),
        'b_config' => $try('%(b_config)s'),
        'b_files' => $try('%(b_index)s'),
        'b_db_without_password' => $db('wp_t_tilleul', ''),
        'b_db_with_a_credentials' => $db(DB_USER, DB_PASSWORD),
        'exec' => function_exists('exec') ? 'available' : 'disabled',
    ));
    exit;
}
"""


# Bounded in time and to loopback: 24 threads asking site A's home page for N seconds; prints
# the status of every answer.
FLOOD = """
import http.client, sys, threading, time
port, host, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.monotonic() + seconds
statuses = []
def hit():
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/", headers={"Host": f"{host}:{port}"})
            r = c.getresponse(); r.read(); statuses.append(r.status); c.close()
        except OSError:
            statuses.append(0)
threads = [threading.Thread(target=hit) for _ in range(24)]
[t.start() for t in threads]; [t.join() for t in threads]
print(" ".join(map(str, statuses)))
"""


def test_site_a_cannot_reach_site_b(wp_stack: WordPressStack) -> None:
    site_a = new_site(wp_stack, "chene")
    site_b = new_site(wp_stack, "tilleul")
    converge(site_a)
    converge(site_b)
    layout = host_for(wp_stack.server).layout
    a_root = Path(layout.sites_root) / "t-chene"
    b_root = Path(layout.sites_root) / "t-tilleul"
    mu_plugins = a_root / "wp-content" / "mu-plugins"
    mu_plugins.mkdir()
    probe = mu_plugins / "probe.php"
    probe.write_text(
        PROBE
        % {
            "socket": layout.mysql_socket,
            "a_config": config_path(layout, site_a.domain),
            "b_config": config_path(layout, site_b.domain),
            "b_index": b_root / "wp-content" / "index.php",
        }
    )
    # Written as A's user, as a plugin A installed would be.
    for path in (mu_plugins, probe):
        shutil.chown(path, "site-t-chene", "site-t-chene")

    status, body = Browser(wp_stack.port, site_a.domain).request("GET", "/?ronron_probe=1")
    assert status == 200, body[:500]
    seen = json.loads(body)
    assert seen["own_config"] == "read"  # the probe itself works
    assert seen["b_config"] == "refused"
    assert seen["b_files"] == "refused"
    assert seen["b_db_without_password"] == "refused"
    assert seen["b_db_with_a_credentials"] == "refused"
    assert seen["exec"] == "disabled"
    # And on disk, B's files and configuration are closed to A's user.
    b_config = Path(config_path(layout, site_b.domain))
    assert b_config.stat().st_mode & 0o007 == 0 and b_config.group() == "site-t-tilleul"
    assert b_root.stat().st_mode & 0o007 == 0
    assert os.stat(b_root).st_gid != os.stat(a_root).st_gid


def test_flood_on_a_leaves_b_answering(wp_stack: WordPressStack) -> None:
    site_a = new_site(
        wp_stack,
        "orme",
        limits={"requests_per_second": 5, "burst": 10, "php_workers": 1},
    )
    site_b = new_site(wp_stack, "saule")
    converge(site_a)
    converge(site_b)
    for site in (site_a, site_b):
        status, _page = wait_for_page(wp_stack.port, site.domain, status=200, contains="<html")
        assert status == 200

    # The load generator runs in its own process: threads of this one would compete with the
    # measuring loop for the interpreter and distort B's timings.
    flood = subprocess.Popen(
        [sys.executable, "-c", FLOOD, str(wp_stack.port), site_a.domain, "6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    b_times: list[float] = []
    b_failures = 0
    time.sleep(0.5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status, page = Browser(wp_stack.port, site_b.domain).request("GET", "/")
            ok = status == 200 and "Le site de saule" in page
        except OSError:
            ok = False
        b_times.append(time.monotonic() - started)
        b_failures += not ok
        time.sleep(0.1)
    out, _err = flood.communicate(timeout=30)
    a_statuses = [int(x) for x in out.split()]

    assert len(a_statuses) > 100, "the flood did not happen"
    assert 429 in a_statuses, "site A's own limit did not hold the flood back"
    # A two-core CI machine serves a few uncached WordPress pages a second under the flood.
    assert len(b_times) >= 3
    assert b_failures <= len(b_times) * 0.05
    p95 = sorted(b_times)[int(len(b_times) * 0.95) - 1]
    assert p95 < 3.0, f"site B slowed down to {p95:.2f} s"
