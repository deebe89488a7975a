"""Member numbers for new members, in the hoster's scheme.

Le PIC numbers associations and collectives ``A0202`` and individuals ``I0007``: a letter for
the kind, then at least four digits. A new member takes the number after the highest one with
its letter (numbers of members who left are never given again: the highest stays taken).

Two approvals at the same time may read the same highest number; the unique constraint on
``Member.number`` refuses the second, and the approving transaction tries again
(``members.onboarding.approve``), so :func:`next_number` must be called inside it.
"""

from __future__ import annotations

from ronron.members.models import Member

PREFIXES: dict[str, str] = {
    Member.Kind.ASSOCIATION: "A",
    Member.Kind.COLLECTIVE: "A",
    Member.Kind.INDIVIDUAL: "I",
}
DIGITS = 4


def prefix_for(kind: str) -> str:
    try:
        return PREFIXES[kind]
    except KeyError:
        raise ValueError(f"no member number scheme for the kind {kind!r}") from None


def _sequence(number: str, prefix: str) -> int | None:
    """The sequence of a number in the scheme (``A0202`` → 202); None for any other number
    (``A12B``, ``ADMIN``, imported numbers of another scheme)."""
    rest = number[len(prefix) :]
    if number.startswith(prefix) and rest.isascii() and rest.isdigit():
        return int(rest)
    return None


def next_number(kind: str) -> str:
    """The next free member number for a member of ``kind``."""
    prefix = prefix_for(kind)
    numbers = Member.objects.filter(number__startswith=prefix).values_list("number", flat=True)
    sequences = [s for s in (_sequence(n, prefix) for n in numbers) if s is not None]
    # After the highest: a gap left by a removed number is not filled (it was someone's).
    return format_number(prefix, max(sequences, default=0) + 1)


def format_number(prefix: str, sequence: int) -> str:
    return f"{prefix}{sequence:0{DIGITS}d}"
