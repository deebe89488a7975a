"""The members' chores, registered with core.chores: one module per part of the journey."""

from ronron.members import chores_lifecycle, chores_onboarding  # noqa: F401
