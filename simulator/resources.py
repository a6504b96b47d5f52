"""What this machine can hold: its memory, and the one guard that refuses a run that would not
fit before any work starts."""

from __future__ import annotations

import os

__all__ = ["MEMORY_SHARE", "ResourceError", "check_memory", "machine_memory"]

#: Refuse work whose estimated memory exceeds this share of the machine's memory.
MEMORY_SHARE = 0.6


class ResourceError(ValueError):
    """A request that would not fit in this machine's memory, refused before it starts."""


def machine_memory() -> int:
    """This machine's memory in bytes (8 GiB if it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def check_memory(need: int, what: str, advice: str) -> None:
    """Refuse work that needs more than :data:`MEMORY_SHARE` of this machine's memory.

    Parameters
    ----------
    need : int
        Estimated peak bytes.
    what : str
        The work, as the subject of the message, e.g. ``"this run"``.
    advice : str
        What to do instead, e.g. ``"use fewer paths"``.

    Raises
    ------
    ResourceError
        ``"<what> needs about X GiB of memory and the machine has Y GiB; <advice>"``.
    """
    have = machine_memory()
    if need > MEMORY_SHARE * have:
        raise ResourceError(
            f"{what} needs about {need / 2**30:.1f} GiB of memory and the machine has "
            f"{have / 2**30:.1f} GiB; {advice}"
        )
