"""The general-assembly report of a large hoster: HTML and PDF, each in a fresh process.

    .venv/bin/python bench/report.py [--members 10000] [--years 10]

Members join over the last ``--years`` years (one in ten leaves later), with themes, places in
France and abroad and external services; they are imported into a fresh SQLite database. Then
each format is produced by ``ronron report`` in its own process, timed from inside (figures,
charts, rendering — not Python's start-up) and from outside (the whole command). The last line
is one JSON object. Targets: HTML ≤ 3 s, PDF ≤ 10 s for 10 000 members over 10 years.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

PLACES = [
    ("31000", "Toulouse", "FR"),
    ("31520", "Ramonville-Saint-Agne", "FR"),
    ("31130", "Balma", "FR"),
    ("81000", "Albi", "FR"),
    ("34000", "Montpellier", "FR"),
    ("75011", "Paris", "FR"),
    ("69003", "Lyon", "FR"),
    ("35000", "Rennes", "FR"),
    ("13001", "Marseille", "FR"),
    ("97400", "Saint-Denis", "FR"),
    ("20000", "Ajaccio", "FR"),
    ("98714", "Papeete", "FR"),
    ("1000", "Bruxelles", "BE"),
    ("1201", "Genève", "CH"),
    ("", "", "FR"),
]
THEMES = ["culture", "education", "ess", "nature", "climat", "velo", "solidarite", "sport"]
SERVICES = ["wordpress", "spip", "list", "cloud", "web", "galette", "dolibarr", "pad", "visio"]
HOME = "31520 Ramonville-Saint-Agne"


def generate(path: Path, count: int, years: int, last_year: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    first_day = date(last_year - years + 1, 1, 1)
    span = (date(last_year, 12, 31) - first_day).days
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["number", "kind", "name", "postal_code", "city", "country", "themes", "joined_on",
             "left_on", "services"]
        )  # fmt: skip
        for i in range(1, count + 1):
            postal_code, city, country = rng.choice(PLACES)
            joined = first_day + timedelta(days=rng.randrange(span))
            left = joined + timedelta(days=rng.randrange(30, 1500)) if rng.random() < 0.1 else None
            writer.writerow(
                [
                    f"M{i:05d}",
                    rng.choice(["association"] * 6 + ["individual", "collective"]),
                    f"Association {i}",
                    postal_code,
                    city,
                    country,
                    ";".join(rng.sample(THEMES, rng.randrange(0, 3))),
                    joined.isoformat(),
                    left.isoformat() if left else "",
                    ";".join(rng.sample(SERVICES, rng.randrange(0, 4))),
                ]
            )


def child(year: int, fmt: str, output: str) -> None:
    """In a fresh process: one report, timed without Python's and Django's start-up."""
    import django

    django.setup()
    from django.utils import translation

    from ronron.config import parse_home_commune
    from ronron.reports.figures import build_report
    from ronron.reports.render import render

    translation.activate("fr")
    start, cpu_start = time.perf_counter(), time.process_time()
    report = build_report(year, parse_home_commune(HOME, "home"))
    figures_seconds = time.perf_counter() - start
    data = render(report, fmt)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    Path(output).write_bytes(data)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "figures_seconds": round(figures_seconds, 3),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "bytes": len(data),
                "members": report.current.members.total,
            }
        )
    )


def run(argv: list[str], env: dict[str, str]) -> tuple[dict, float]:
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ronron.settings")
    if args.child:
        year, fmt, output = args.child
        child(int(year), fmt, output)
        return
    year = date.today().year - 1
    with tempfile.TemporaryDirectory(prefix="ronron-bench-") as tmp:
        env = dict(os.environ, RONRON_DATA_DIR=tmp)
        env.pop("RONRON_DATABASE_URL", None)
        ronron = [sys.executable, "-m", "ronron"]
        subprocess.run([*ronron, "migrate", "-v0"], env=env, check=True)
        path = Path(tmp) / "members.csv"
        generate(path, args.members, args.years, year)
        subprocess.run(
            [*ronron, "members", "import", str(path)], env=env, check=True, capture_output=True
        )
        results = {}
        for fmt in ("html", "pdf"):
            output = str(Path(tmp) / f"report.{fmt}")
            inside, outside = run(
                [sys.executable, __file__, "--child", str(year), fmt, output], env
            )
            results[fmt] = {**inside, "command_seconds": round(outside, 3)}
        pages = None
        try:
            from pypdf import PdfReader

            pages = len(PdfReader(Path(tmp) / "report.pdf").pages)
        except ImportError:
            pass
        html, pdf = results["html"], results["pdf"]
        print(
            json.dumps(
                {
                    "benchmark": "report",
                    "members": args.members,
                    "years": args.years,
                    "members_of_the_year": html["members"],
                    "figures_seconds": html["figures_seconds"],
                    "html_seconds": html["seconds"],
                    "html_cpu_seconds": html["cpu_seconds"],
                    "html_command_seconds": html["command_seconds"],
                    "html_bytes": html["bytes"],
                    "html_peak_rss_mib": html["peak_rss_mib"],
                    "pdf_seconds": pdf["seconds"],
                    "pdf_cpu_seconds": pdf["cpu_seconds"],
                    "pdf_command_seconds": pdf["command_seconds"],
                    "pdf_bytes": pdf["bytes"],
                    "pdf_pages": pages,
                    "pdf_peak_rss_mib": pdf["peak_rss_mib"],
                    "target_html_seconds": 3,
                    "target_pdf_seconds": 10,
                    "cpus": os.cpu_count(),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                }
            )
        )


if __name__ == "__main__":
    main()
