"""Import a large member file into a fresh SQLite database, then import it again.

    .venv/bin/python bench/import.py [--members 10000]

Each import runs in its own process so that its peak memory (maximum resident set size, which
includes Python and Django themselves) is its own. The last line printed is one JSON object:
wall and CPU seconds and peak memory of the first import (everything created) and of the second
(nothing changes). Target: the first import of 10 000 members in 10 s or less on a 2-core machine.
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

CITIES = [
    ("31000", "Toulouse"),
    ("31400", "Toulouse"),
    ("31200", "Toulouse"),
    ("31300", "Toulouse"),
    ("31500", "Toulouse"),
    ("31130", "Balma"),
    ("31520", "Ramonville-Saint-Agne"),
    ("31770", "Colomiers"),
    ("31120", "Portet-sur-Garonne"),
    ("32000", "Auch"),
    ("81000", "Albi"),
    ("82000", "Montauban"),
    ("09000", "Foix"),
    ("11000", "Carcassonne"),
    ("34000", "Montpellier"),
    ("75011", "Paris"),
    ("69003", "Lyon"),
    ("13001", "Marseille"),
    ("97400", "Saint-Denis"),
    ("20000", "Ajaccio"),
]
THEMES = ["culture", "Éducation", "ess", "nature", "climat", "Vélo", "solidarite", "sport"]
SERVICES = ["wordpress", "spip", "list", "cloud", "web", "lists", "galette", "pad"]
ROLES = ["président", "trésorier", "secretary", "tech", "billing"]
WORDS = ["Les Amis", "Collectif", "Association", "Maison", "Atelier", "Réseau", "Comité"]
PLACES = ["du Vélo", "des Jardins", "de la Culture", "du Quartier", "des Libertés", "du Lien"]


def generate(path: Path, count: int, seed: int = 42) -> None:
    """A realistic file: French headers, semicolons, a BOM and CRLF, as a spreadsheet saves."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            [
                "numero",
                "type",
                "nom",
                "code_postal",
                "ville",
                "pays",
                "thematiques",
                "date_adhesion",
                "date_depart",
                "services",
                "contact_nom",
                "contact_email",
                "contact_role",
            ]
        )
        for i in range(1, count + 1):
            kind = rng.choice(["association"] * 6 + ["individu", "collectif"])
            postal_code, city = rng.choice(CITIES)
            joined = date(2012, 1, 1) + timedelta(days=rng.randrange(4500))
            left = joined + timedelta(days=rng.randrange(30, 2000)) if rng.random() < 0.1 else None
            name = f"{rng.choice(WORDS)} {rng.choice(PLACES)} {i}"
            writer.writerow(
                [
                    f"A{i:05d}",
                    kind,
                    name,
                    postal_code,
                    city,
                    "FR",
                    ";".join(rng.sample(THEMES, rng.randrange(0, 3))),
                    joined.isoformat(),
                    left.isoformat() if left else "",
                    ";".join(rng.sample(SERVICES, rng.randrange(0, 3))),
                    f"Contact {i}",
                    f"contact{i}@example.org",
                    ";".join(rng.sample(ROLES, rng.randrange(0, 3))),
                ]
            )


def child(path: str) -> None:
    """Run in a fresh process: one import, timed."""
    import django

    django.setup()
    from ronron.members.imports import import_members

    data = Path(path).read_bytes()
    start, cpu_start = time.perf_counter(), time.process_time()
    report = import_members(data, actor=None)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if report.errors:
        raise SystemExit(f"unexpected errors: {[str(e) for e in report.errors[:5]]}")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "created": len(report.created),
                "updated": len(report.updated),
                "unchanged": len(report.unchanged),
            }
        )
    )


def run_child(path: Path, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ronron.settings")
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="ronron-bench-") as tmp:
        env = dict(os.environ, RONRON_DATA_DIR=tmp)
        env.pop("RONRON_DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "ronron", "migrate", "-v0"], env=env, check=True)
        path = Path(tmp) / "members.csv"
        generate(path, args.members)
        first = run_child(path, env)
        second = run_child(path, env)
        assert first["created"] == args.members, first
        assert second["unchanged"] == args.members, second
        print(
            json.dumps(
                {
                    "benchmark": "members_import",
                    "members": args.members,
                    "file_bytes": path.stat().st_size,
                    "import_seconds": first["seconds"],
                    "import_cpu_seconds": first["cpu_seconds"],
                    "import_peak_rss_mib": first["peak_rss_mib"],
                    "reimport_seconds": second["seconds"],
                    "reimport_cpu_seconds": second["cpu_seconds"],
                    "reimport_peak_rss_mib": second["peak_rss_mib"],
                    "target_seconds": 10,
                    "cpus": os.cpu_count(),
                    # Wall time depends on what else runs: the load says how busy the machine was.
                    "load_average_1min": round(os.getloadavg()[0], 2),
                }
            )
        )


if __name__ == "__main__":
    main()
