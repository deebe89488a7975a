"""Drivers, one module per kind, registered on import (see base.py for the contract)."""

from importlib import import_module

DRIVER_MODULES = [
    "ronron.drivers.static",
    "ronron.drivers.wordpress",
    "ronron.drivers.sympa",
    "ronron.drivers.nextcloud",
]


def load_all() -> None:
    for name in DRIVER_MODULES:
        import_module(name)
