"""What the reconciler saw on the servers, stored on each service.

Observation is not truth: it is written straight to the service (no audit entry), like a
thermometer's reading, each time a driver looks.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ronron.drivers.base import Observation
from ronron.services.models import Service

_KNOWN_STATES = {choice.value for choice in Service.Observed}


def record_observation(service: Service, observed: Observation) -> None:
    state = observed.state if observed.state in _KNOWN_STATES else Service.Observed.UNKNOWN
    data: dict[str, Any] = {"parts": observed.parts, "facts": observed.facts}
    now = timezone.now()
    Service.objects.filter(pk=service.pk).update(
        observed_state=state, observed=data, observed_at=now
    )
    service.observed_state, service.observed, service.observed_at = state, data, now
