"""Build Ronron's offline postal-code tables from Etalab's administrative division data.

Source: the npm package ``@etalab/decoupage-administratif`` (data by Etalab / DINUM, under the
Licence Ouverte / Open Licence 2.0; code MIT). Its ``communes.json`` carries, for each commune,
the INSEE code and département from INSEE's Code officiel géographique and the postal codes
from La Poste's Base officielle des codes postaux (now published under the Licence Ouverte);
``departements.json`` and ``regions.json`` give the official names.

Usage (in a temporary directory, not in the repository)::

    npm pack @etalab/decoupage-administratif@6.0.0
    python scripts/build_postal_data.py etalab-decoupage-administratif-6.0.0.tgz

The argument is the package tarball or its unpacked ``data/`` directory. Writes
``src/ronron/members/data/postal_codes.csv`` and ``departements.csv``; the output depends only
on the input, so running it twice gives identical files.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tarfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "ronron" / "members" / "data"
sys.path.insert(0, str(ROOT / "src"))

from ronron.members.geography import REGIONS  # noqa: E402

COLLECTIVITE_ZONE = "com"  # collectivités d'outre-mer: in no région


def load(source: Path) -> dict[str, Any]:
    names = ("communes", "departements", "regions")
    if source.is_dir():
        return {n: json.loads((source / f"{n}.json").read_text("utf-8")) for n in names}
    with tarfile.open(source) as tar:
        data = {}
        for n in names:
            member = tar.extractfile(f"package/data/{n}.json")
            if member is None:
                raise SystemExit(f"{source}: no package/data/{n}.json")
            data[n] = json.loads(member.read().decode("utf-8"))
        return data


def departement_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    region_names = {r["code"]: r["nom"] for r in data["regions"]}
    rows = []
    for dep in data["departements"]:
        region = "" if dep["zone"] == COLLECTIVITE_ZONE else region_names[dep["region"]]
        rows.append((dep["code"], dep["nom"], region))
    found = {region for _, _, region in rows if region}
    if found != set(REGIONS):
        raise SystemExit(f"région names differ from geography.REGIONS: {found ^ set(REGIONS)}")
    return sorted(rows)


def postal_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """One row per unambiguous code; one per commune name for codes shared by départements."""
    communes = data["communes"]
    deps_of: dict[str, set[str]] = defaultdict(set)
    names_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    # Delegated and associated communes keep their old names in people's addresses.
    old_names: dict[str, set[str]] = defaultdict(set)
    for commune in communes:
        if commune["type"] in ("commune-deleguee", "commune-associee") and "chefLieu" in commune:
            old_names[commune["chefLieu"]].add(commune["nom"])
    for commune in communes:
        dep = commune["departement"]
        for code in commune.get("codesPostaux", []):
            deps_of[code].add(dep)
            names_of[code].add((commune["nom"], dep))
            for old in old_names.get(commune["code"], ()):
                names_of[code].add((old, dep))
    rows = []
    for code in sorted(deps_of):
        if len(deps_of[code]) == 1:
            rows.append((code, next(iter(deps_of[code])), ""))
        else:
            rows.extend((code, dep, name) for name, dep in sorted(names_of[code]))
    return rows


def write(path: Path, header: tuple[str, ...], rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="decoupage-administratif .tgz or data/ dir")
    args = parser.parse_args()
    data = load(args.source)
    deps = departement_rows(data)
    postal = postal_rows(data)
    known = {code for code, _, _ in deps}
    unknown = {dep for _, dep, _ in postal} - known
    if unknown:
        raise SystemExit(f"postal codes in unknown départements: {sorted(unknown)}")
    OUT.mkdir(parents=True, exist_ok=True)
    write(OUT / "departements.csv", ("code", "name", "region"), deps)
    write(OUT / "postal_codes.csv", ("postal_code", "departement", "city"), postal)
    shared = len({code for code, _, city in postal if city})
    codes = len({code for code, _, _ in postal})
    print(f"{len(deps)} départements, {codes} postal codes ({shared} shared by départements)")


if __name__ == "__main__":
    main()
