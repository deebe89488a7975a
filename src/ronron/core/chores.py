"""Periodic chores (dues reminders, retention deadlines, …): registered once, run by the
housekeeping of the prober's first shard (Ronron's one steady clock) when due.

A chore is due when it never ran or its interval has passed since its last run. Its turn is
taken with a conditional UPDATE before it runs, so two processes never run it twice; it must
be idempotent anyway (a crash may cut it half-way, the next run finishes the job).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from ronron.core.models import Chore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    name: str
    every: timedelta
    run: Callable[[datetime], Any]


CHORES: dict[str, Registered] = {}


def register(name: str, every: timedelta) -> Callable[[Callable[[datetime], Any]], Any]:
    """Decorator: ``@chores.register("dues.reminders", every=timedelta(days=1))`` on a function
    taking the current time and returning something JSON-serialisable (its figures)."""

    def decorate(func: Callable[[datetime], Any]) -> Callable[[datetime], Any]:
        CHORES[name] = Registered(name=name, every=every, run=func)
        return func

    return decorate


def _take_turn(chore: Registered, now: datetime) -> bool:
    Chore.objects.get_or_create(name=chore.name)
    due = Q(last_run_at__isnull=True) | Q(last_run_at__lte=now - chore.every)
    return bool(Chore.objects.filter(due, name=chore.name).update(last_run_at=now))


def run_due(now: datetime | None = None) -> dict[str, Any]:
    """Run every chore that is due; one failing does not hold the others back."""
    now = now or timezone.now()
    _load_registrations()
    results: dict[str, Any] = {}
    for chore in CHORES.values():
        if not _take_turn(chore, now):
            continue
        try:
            result = chore.run(now)
        except Exception as exc:
            if isinstance(exc, DatabaseError):
                connection.close()
            log.exception("chore %s failed", chore.name)
            Chore.objects.filter(name=chore.name).update(
                last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            results[chore.name] = {"error": type(exc).__name__}
            continue
        Chore.objects.filter(name=chore.name).update(last_result=result, last_error="")
        results[chore.name] = result
    return results


def _load_registrations() -> None:
    """Chores register when their module is imported; each app lists its own in a
    ``chores`` module, imported here."""
    from importlib import import_module

    from django.apps import apps

    for app in apps.get_app_configs():
        if app.name.startswith("ronron."):
            try:
                import_module(f"{app.name}.chores")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app.name}.chores":
                    raise
