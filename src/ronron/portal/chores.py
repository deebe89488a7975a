"""The portal's periodic chores (run by the prober's housekeeping; ``ronron chores run``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ronron.core import chores
from ronron.portal.actions_requests import mark_ready_requests


@chores.register("requests.ready", every=timedelta(minutes=5))
def requests_ready(now: datetime) -> dict[str, int]:
    """Approved requests whose service now runs are done; their members are told."""
    return mark_ready_requests(now)
