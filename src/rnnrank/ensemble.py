"""The ensemble axis E in one place: add it, drop it, pick a member, validate a member index.

Layout (docs/concepts.md): an ensemble's parameters carry a leading axis E (``W [E, N, N]``),
activity a member axis after time (``[T, E, B, N]``), trajectories one after the snapshot axis
(``[K, E, N, N]``). A single network (``RateRNN(gain=1.5)``) stores the same arrays without E;
``gain=[1.5]`` asks for an ensemble of one and keeps E. Code that works on members converts with
these helpers instead of branching on the layout itself.

Every helper accepts NumPy arrays and torch tensors alike.
"""

from __future__ import annotations


def _index(axis: int, item) -> tuple:
    return (slice(None),) * axis + (item,)


def with_members(value, ensemble: bool, axis: int = 0):
    """``value`` with the E axis at ``axis`` (a single network's gains one of length 1; a view)."""
    return value if ensemble else value[_index(axis, None)]


def without_members(value, ensemble: bool, axis: int = 0):
    """Back to the model's own layout: drops the (length-1) E axis of a single network."""
    return value if ensemble else value[_index(axis, 0)]


def check_member(member: int | None, ensemble: bool, size: int | None = None) -> int | None:
    """Validate ``member`` against the layout: required for an ensemble, 0/None for one network.

    Returns the member index to use (None for a single network).
    """
    if ensemble:
        if member is None:
            raise ValueError("the source is an ensemble; pass member=e (0 … E−1)")
        if size is not None and not -size <= member < size:
            raise ValueError(f"member must be in 0..{size - 1}, got {member}")
        return member
    if member not in (None, 0):
        raise ValueError(f"the source is a single network; got member={member}")
    return None


def select_member(value, member: int | None, ensemble: bool, axis: int = 0):
    """Member ``member``'s slice along ``axis`` of an ensemble's array; ``value`` itself else."""
    return value[_index(axis, member)] if ensemble else value
