"""Mailing lists following rosters on a real Sympa: the initial sync of every list, and one
member's departure reaching every list it was on.

    .venv/bin/python bench/lists.py [--lists 650] [--addresses 71000] [--shared 10]
        [--robots 3] [--sync-processes 2] [--web-processes 2] [--worker-departures 3] [--seed 7]

Runs as root (Sympa's command line switches to the sympa user itself). Everything is fresh and
private: a data directory and SQLite database for Ronron, a Sympa instance from
tests/stack/sympa.py with its database in WAL mode (what we recommend to hosters), and the real
``ronron serve`` (gunicorn, several processes) on a loopback port, from which Sympa fetches each
list's roster feed with the list's own credential.

Data: ``lists - shared`` member associations with ``addresses // lists`` contacts each (the
first is the president), one roster per member (source ``member``) followed by that member's own
list, and ``shared`` lists following the ``board`` roster. Members and presidents come in
through the member import; the other contacts are bulk-inserted as the import does (adding
70 000 contacts one action at a time would take minutes and is not what is measured).

Measured:
- ``create_s``: ``ronron apply`` creating every list on Sympa (not a target; the task backend is
  the database queue, so the lists are created and made to follow their roster, not filled);
- ``initial_sync_s``: ``sync_rosters()`` — the background worker's job — filling every list,
  then checked against Sympa's database (target ≤ 60 s);
- ``departure_s``: a president's ``record_departure`` until its addresses are gone from its own
  list and the shared ones in Sympa's database, the sync run inline (target ≤ 5 s); then the
  same for other presidents with a real ``ronron db_worker`` process picking the task up
  (``worker_departure_s``, median, with the queue wait reported apart).

CPU seconds of each side (this process, the Sympa processes, ``ronron serve``) are reported per
phase, and the time of one roster feed, to tell where the time goes. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.processes import Child, cpu_now, cpu_used, machine, start_serve, wait_until_up  # noqa: E402

OWNER = "listmaster@chatons.example.org"
SERVER_NAME = "listes-bench"
STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f} s] {message}", flush=True)


# --- data ----------------------------------------------------------------------------------------


def member_number(i: int) -> str:
    return f"A{i + 1:04d}"


def contact_email(i: int, k: int) -> str:
    return f"c{k:03d}.{member_number(i).lower()}@asso{i + 1:04d}.example.org"


def make_members(count: int, per_member: int, rng: random.Random) -> None:
    """Members and their presidents through the member import; the other contacts inserted in
    bulk, as the import itself writes them."""
    from ronron.members.imports import import_members
    from ronron.members.models import Contact, Member

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["number", "kind", "name", "joined_on", "contact_name", "contact_email", "contact_role"]
    )
    for i in range(count):
        joined = date(2015 + rng.randrange(10), 1 + rng.randrange(12), 1 + rng.randrange(28))
        writer.writerow([member_number(i), "association", f"Association {i + 1}",
                         joined.isoformat(), f"Présidente {i + 1}", contact_email(i, 0),
                         "president"])  # fmt: skip
    report = import_members(out.getvalue().encode(), actor=None)
    if not report.ok:
        raise RuntimeError(f"member import failed: {report.errors[:3]}")
    ids = dict(Member.objects.values_list("number", "pk"))
    Contact.objects.bulk_create(
        (
            Contact(member_id=ids[member_number(i)], name=f"Contact {k} {i + 1}",
                    email=contact_email(i, k))
            for i in range(count)
            for k in range(1, per_member)
        ),
        batch_size=2000,
    )  # fmt: skip


def make_lists(server: Any, members: int, shared: int, robots: list[str]) -> None:
    from ronron.members.models import Member
    from ronron.services.actions import request_service
    from ronron.services.actions_rosters import create_roster, follow_roster

    def new_list(member: Member, address: str, roster: Any, subject: str) -> None:
        spec = {"subject": subject, "owners": [OWNER]}
        service = request_service(
            member, actor=None, kind="list", domain=address, server=server, spec=spec
        )
        follow_roster(service, roster, actor=None)

    board = create_roster(actor=None, name="Bureaux des adhérents", source="board")
    for j in range(shared):
        first = Member.objects.get(number=member_number(j % members))
        new_list(first, f"commune{j + 1}@{robots[j % len(robots)]}", board, "Liste commune")
    for i, member in enumerate(Member.objects.order_by("number")):
        roster = create_roster(
            actor=None, name=f"Contacts {member.number}", source="member", member=member
        )
        new_list(member, f"{member.number.lower()}@{robots[i % len(robots)]}", roster, "Liste")
        if (i + 1) % 200 == 0:
            say(f"  {i + 1 + shared} list services requested")


class ApplyProgress(io.TextIOBase):
    """``ronron apply``'s output, reduced to a progress line now and then."""

    def __init__(self, every: int) -> None:
        self.every, self.steps = every, 0

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.startswith("["):
                self.steps += 1
                if self.steps % self.every == 0:
                    say(f"  apply {line.split(']')[0][1:]}")
            elif line.startswith(("Run ", "Failed", "Échec")):
                say(f"  apply: {line}")
        return len(text)


# --- Sympa's side -------------------------------------------------------------------------------


def sympa_subscribers(sympa: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    with sympa.database_connection() as db:
        rows = db.execute(
            "SELECT list_subscriber, robot_subscriber, user_subscriber FROM subscriber_table"
        )
        for name, robot, user in rows:
            found[f"{name}@{robot}"].add(user)
    return found


def lists_holding(sympa: Any, addresses: list[str]) -> set[str]:
    marks = ",".join("?" * len(addresses))
    with sympa.database_connection() as db:
        rows = db.execute(
            "SELECT DISTINCT list_subscriber, robot_subscriber FROM subscriber_table "  # noqa: S608
            f"WHERE user_subscriber IN ({marks})",
            addresses,
        ).fetchall()
    return {f"{name}@{robot}" for name, robot in rows}


def wanted_subscribers() -> dict[str, set[str]]:
    from ronron.services import rosters
    from ronron.services.models import Service

    computed: dict[int, set[str]] = {}
    wanted = {}
    for service in Service.objects.filter(kind="list").select_related("roster"):
        roster = service.roster
        assert roster is not None
        if roster.pk not in computed:
            computed[roster.pk] = {e.email for e in rosters.entries(roster)}
        wanted[service.domain] = computed[roster.pk]
    return wanted


def feed_timings(base: str, samples: int) -> dict[str, float]:
    """Median time of one roster feed as Sympa fetches it (HTTP Basic), for a member's list and
    for a shared list, over sequential requests."""
    from ronron.services.models import Service
    from ronron.services.rosters import ROSTER_FEED, feed_user

    def fetch(service: Service) -> float:
        secret = f"{feed_user(service)}:{service.credentials[ROSTER_FEED]}"
        request = urllib.request.Request(  # noqa: S310
            f"{base}/rosters/feed/{service.pk}/",
            headers={"Authorization": "Basic " + b64encode(secret.encode()).decode()},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
        return time.perf_counter() - started

    lists = Service.objects.filter(kind="list").select_related("roster")
    own = [s for s in lists if s.roster and s.roster.source == "member"][:samples]
    shared = [s for s in lists if s.roster and s.roster.source == "board"][:samples]
    return {
        "feed_member_ms": round(statistics.median(fetch(s) for s in own) * 1000, 1),
        "feed_board_ms": round(statistics.median(fetch(s) for s in shared) * 1000, 1)
        if shared
        else 0.0,
    }


def roster_computation_s() -> float:
    """What ``sync_rosters`` spends on Ronron's side before asking Sympa anything: reading the
    following services and computing and fingerprinting every roster once."""
    from ronron.services import rosters
    from ronron.services.tasks import following_services

    started = time.perf_counter()
    done: set[int] = set()
    for service in following_services():
        if service.roster_id not in done:
            done.add(service.roster_id)
            rosters.digest(rosters.entries(service.roster))
    return time.perf_counter() - started


def wait_until_gone(sympa: Any, addresses: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not lists_holding(sympa, addresses):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def depart(sympa: Any, member: Any, *, inline: bool, timeout: float) -> dict[str, Any]:
    """The member leaves; seconds until none of its addresses is on any list any more."""
    from ronron.members.actions import record_departure
    from ronron.services.tasks import sync_rosters

    addresses = list(member.contacts.values_list("email", flat=True))
    holding = lists_holding(sympa, addresses)
    started = time.perf_counter()
    record_departure(member, actor=None, on=date.today())
    synced = None
    if inline:
        synced = sync_rosters()
    gone = wait_until_gone(sympa, addresses, timeout)
    seconds = time.perf_counter() - started
    if not gone:
        raise RuntimeError(
            f"{member.number}: still on {sorted(lists_holding(sympa, addresses))} after "
            f"{seconds:.1f} s"
        )
    return {
        "seconds": seconds,
        "lists_before": len(holding),
        "services_synced": synced["services"] if synced else None,
        "failed": synced["failed"] if synced else None,
    }


def worker_task_times(timeout: float = 60) -> tuple[float, float]:
    """The roster-sync task the worker just ran (once it has finished): seconds it waited in the
    queue, seconds it ran."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + timeout
    while DBTaskResult.objects.filter(finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish its task")
        time.sleep(0.1)
    task = DBTaskResult.objects.order_by("-finished_at").first()
    if task is None or task.started_at is None or task.finished_at is None:
        raise RuntimeError("the worker ran no task")
    return (
        (task.started_at - task.enqueued_at).total_seconds(),
        (task.finished_at - task.started_at).total_seconds(),
    )


# --- the run --------------------------------------------------------------------------------------


def start_stack(args: argparse.Namespace, cleanup: list[Any]) -> dict[str, Any]:
    """A fresh database, ``ronron serve`` on loopback and a private Sympa in WAL mode."""
    from django.conf import settings
    from django.core.management import call_command
    from tests.stack.sympa import start_sympa, stop_sympa

    backend = str(settings.TASKS["default"]["BACKEND"])
    if "immediate" in backend.lower():
        raise SystemExit(f"the task backend must queue, not run inline: {backend}")
    call_command("migrate", verbosity=0)
    serve, base = start_serve(settings.DATA_DIR, args.web_processes)
    cleanup.append(serve.stop)
    sympa = start_sympa(wal=True)
    cleanup.append(lambda: stop_sympa(sympa))
    with sympa.database_connection() as db:
        journal = str(db.execute("PRAGMA journal_mode").fetchone()[0])
    say(f"Sympa instance in {sympa.base} (journal_mode={journal}); task backend {backend}")
    return {"serve": serve, "base": base, "sympa": sympa, "wal": journal.lower() == "wal"}


def create_everything(args: argparse.Namespace, stack: dict[str, Any], rng: Any) -> float:
    """Members, rosters and list services, then ``ronron apply``: seconds the apply took."""
    from django.core.management import call_command

    from ronron.fleet.actions import create_server

    sympa, members = stack["sympa"], args.lists - args.shared
    per_member = args.addresses // args.lists
    started = time.perf_counter()
    make_members(members, per_member, rng)
    seconds = time.perf_counter() - started
    say(f"{members} members, {members * per_member} contacts in {seconds:.1f} s")
    wait_until_up(stack["serve"], stack["base"])
    say(f"ronron serve answers on {stack['base']} ({args.web_processes} web processes)")
    layout = {
        "sympa_env": [f"SYMPA_CONFIG={sympa.config}"],
        "sympa_etc": str(sympa.etc_dir),
        "sympa_list_data": str(sympa.list_data),
        "sympa_arc": str(sympa.arc_dir),
        "sympa_database": str(sympa.database),
        "sympa_staging": str(sympa.base / "staging"),
        "sympa_sync_processes": args.sync_processes,
        "ronron_url": stack["base"],
    }
    server = create_server(actor=None, name=SERVER_NAME, roles=["lists"], layout=layout)
    robots = [f"listes{r + 1}.bench.example.org" for r in range(args.robots)]
    started = time.perf_counter()
    make_lists(server, members, args.shared, robots)
    say(f"{args.lists} list services and rosters in {time.perf_counter() - started:.1f} s")

    say("creating the lists on Sympa (ronron apply)…")
    started = time.perf_counter()
    progress = ApplyProgress(every=max(50, members))
    call_command("apply", "--server", SERVER_NAME, "--yes", stdout=progress)
    create_s = time.perf_counter() - started
    filled = sum(len(v) for v in sympa_subscribers(sympa).values())
    say(f"created in {create_s:.1f} s ({create_s / args.lists:.2f} s a list), {filled} members")
    if filled:
        raise RuntimeError("the apply filled the lists: the sync ran inline")
    return create_s


def initial_sync(stack: dict[str, Any]) -> dict[str, Any]:
    """Every list brought to its roster by the worker's job, then checked in Sympa's database."""
    from ronron.services.tasks import sync_rosters

    serve, sympa = stack["serve"], stack["sympa"]
    rosters_s = roster_computation_s()
    say(f"Ronron's side of a sync (rosters computed and fingerprinted): {rosters_s:.2f} s")
    say("initial sync (sync_rosters, as the worker runs it)…")
    cpu, started = cpu_now(serve), time.perf_counter()
    synced = sync_rosters()
    seconds = time.perf_counter() - started
    cpu_figures = cpu_used(cpu, cpu_now(serve), "initial_sync")
    # The Sympa processes the sync ran are the only children waited for so far.
    sympa_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    say(f"initial sync: {synced['services']} lists in {seconds:.1f} s; CPU {cpu_figures}")
    if synced["failed"]:
        sample = [m for m in synced["messages"].values() if not m.startswith("ok")][:3]
        raise RuntimeError(f"{synced['failed']} lists failed to sync: {sample}")
    wanted, found = wanted_subscribers(), sympa_subscribers(sympa)
    wrong = [a for a in wanted if found.get(a, set()) != wanted[a]]
    if wrong:
        raise RuntimeError(f"{len(wrong)} lists differ from their roster, e.g. {wrong[:3]}")
    subscriptions = sum(len(found[a]) for a in wanted)
    say(f"every list holds exactly its roster: {subscriptions} subscriptions")
    feeds = feed_timings(stack["base"], samples=20)
    say(f"one roster feed: {feeds}")
    return {
        "addresses": subscriptions,
        "initial_sync_s": round(seconds, 1),
        "initial_sync_ronron_rosters_s": round(rosters_s, 2),
        **cpu_figures,
        **feeds,
        "sympa_sync_peak_rss_mib": round(sympa_peak_kib / 1024, 1),
    }


def departures(
    args: argparse.Namespace, stack: dict[str, Any], rng: Any, cleanup: list[Any]
) -> dict[str, Any]:
    """A president leaves, the sync run inline; then others leave with a real worker running."""
    from django.conf import settings
    from django_tasks_db.models import DBTaskResult
    from tests.serving import clean_env

    from ronron.members.models import Member

    serve, sympa = stack["serve"], stack["sympa"]
    leaving = rng.sample(list(Member.objects.order_by("number")), 1 + args.worker_departures)
    time.sleep(1.1)  # a real departure does not follow the initial sync within the second
    cpu = cpu_now(serve)
    inline = depart(sympa, leaving[0], inline=True, timeout=60)
    cpu_figures = cpu_used(cpu, cpu_now(serve), "departure")
    say(
        f"departure of {leaving[0].number} (inline sync): {inline['seconds']:.2f} s, "
        f"{inline['services_synced']} lists synced, {inline['lists_before']} held its "
        f"addresses; CPU {cpu_figures}"
    )

    # Tasks queued while no worker ran (imports, follows, the apply, the departure above) are
    # stale — the syncs above did their work — and would only delay the one measured.
    DBTaskResult.objects.ready().delete()
    worker = Child(
        [sys.executable, "-m", "ronron", "db_worker", "--no-reload", "--queue-name", "*"],
        clean_env(settings.DATA_DIR, PYTHONPATH=str(ROOT)),
    )
    cleanup.append(worker.stop)
    worker.wait_for_line("Starting worker", timeout=60)
    time.sleep(1.5)  # its random start-up delay (≤ 1 s), then it polls every second
    queued, waits, tasks = [], [], []
    for member in leaving[1:]:
        # Departures do not come in step with the worker's polling: start anywhere in it.
        time.sleep(1 + rng.random())
        seconds = depart(sympa, member, inline=False, timeout=120)["seconds"]
        wait, ran = worker_task_times()
        queued.append(seconds)
        waits.append(wait)
        tasks.append(ran)
        say(
            f"departure of {member.number} (db_worker): {seconds:.2f} s "
            f"(queue wait {wait:.2f} s, task {ran:.2f} s)"
        )
    return {
        "departure_s": round(inline["seconds"], 2),
        "departure_lists": inline["services_synced"],
        "departure_lists_holding": inline["lists_before"],
        **cpu_figures,
        "worker_departures": len(queued),
        "worker_departure_s": round(statistics.median(queued), 2),
        "worker_departure_max_s": round(max(queued), 2),
        "worker_extra_s": round(statistics.median(queued) - inline["seconds"], 2),
        "worker_queue_wait_s": round(statistics.median(waits), 2),
        "worker_queue_wait_max_s": round(max(waits), 2),
        "worker_task_s": round(statistics.median(tasks), 2),
        "worker_peak_rss_mib": worker.peak_rss_mib(),
    }


def run(args: argparse.Namespace, cleanup: list[Any]) -> dict[str, Any]:
    import django

    django.setup()
    rng = random.Random(args.seed)
    stack = start_stack(args, cleanup)
    create_s = create_everything(args, stack, rng)
    synced = initial_sync(stack)
    departed = departures(args, stack, rng, cleanup)
    return {
        "bench": "lists",
        "lists": args.lists,
        "members": args.lists - args.shared,
        "contacts_per_member": args.addresses // args.lists,
        "addresses": synced.pop("addresses"),
        "shared": args.shared,
        "robots": args.robots,
        "sync_processes": args.sync_processes,
        "web_processes": args.web_processes,
        "sympa_wal": stack["wal"],
        "create_s": round(create_s, 1),
        **synced,
        **departed,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "web_peak_rss_mib": stack["serve"].peak_rss_mib(),
        "target_initial_sync_s": 60,
        "target_departure_s": 5,
        **machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lists", type=int, default=650)
    parser.add_argument("--addresses", type=int, default=71000)
    parser.add_argument("--shared", type=int, default=10)
    parser.add_argument("--robots", type=int, default=3, choices=[2, 3, 4])
    parser.add_argument("--sync-processes", type=int, default=2)
    parser.add_argument("--web-processes", type=int, default=2)
    parser.add_argument("--worker-departures", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.worker_departures < 1 or args.shared < 0:
        parser.error("--worker-departures must be at least 1, --shared at least 0")
    if args.lists - args.shared < 1 + args.worker_departures:
        parser.error("--lists - --shared must leave one member per departure")
    if args.addresses // args.lists < 1:
        parser.error("--addresses must be at least --lists")
    if os.geteuid() != 0 or not Path("/usr/bin/sympa").exists():
        raise SystemExit("run as root with Sympa installed (scripts/install-test-deps)")

    tmp = Path(tempfile.mkdtemp(prefix="ronron-bench-lists-"))
    os.environ.pop("RONRON_DATABASE_URL", None)
    os.environ["RONRON_DATA_DIR"] = str(tmp / "data")
    os.environ["DJANGO_SETTINGS_MODULE"] = "ronron.settings"
    (tmp / "data").mkdir()
    cleanup: list[Any] = []
    # A plain `kill` cleans up too (Sympa instance, server, worker, temporary files).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        result = run(args, cleanup)
    finally:
        for undo in reversed(cleanup):
            try:
                undo()
            except Exception as exc:
                print(f"cleanup: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
