"""A stand-in Nextcloud 27.1 (OCS provisioning API and ``occ``) for the Nextcloud driver's
tests; see ``standin.py``. Registered as a pytest plugin for its ``nextcloud_standin``
fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack.nextcloud.standin import NextcloudStandIn

__all__ = ["APPS_AVAILABLE", "NextcloudStandIn", "nextcloud_standin"]

# App-store apps installed on the server but disabled, which `occ app:enable` can enable.
APPS_AVAILABLE = {"deck": "1.11.0", "calendar": "4.5.0", "contacts": "5.4.0", "onlyoffice": "9.0.0"}


@pytest.fixture
def nextcloud_standin(tmp_path: Path) -> Iterator[NextcloudStandIn]:
    standin = NextcloudStandIn(data_dir=tmp_path / "nc-data", apps_available=APPS_AVAILABLE)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
