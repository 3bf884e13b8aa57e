"""The cancellation's state model (domain.md section 4).

    RECEIVED_BY_GATEWAY -> PENDING | COMPLETED | REJECTED | FAILED_TO_SEND
    PENDING             -> COMPLETED | REJECTED
    FAILED_TO_SEND      -> PENDING | COMPLETED | REJECTED     (after a redrive)
    COMPLETED, REJECTED    terminal: nothing moves a cancellation out of them

A cancellation is *open* while it is not terminal; the order then shows PENDING_CANCELLATION.
FAILED_TO_SEND stays open on purpose: an operator redrive can still deliver it, so a second
cancellation for the same order would race it.
"""

from __future__ import annotations

from fibre_cafe.domain.errors import IllegalTransition
from fibre_cafe.models.cancellation import CancellationStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.RECEIVED_BY_GATEWAY: frozenset({S.PENDING, S.COMPLETED, S.REJECTED, S.FAILED_TO_SEND}),
    S.PENDING: frozenset({S.COMPLETED, S.REJECTED}),
    S.FAILED_TO_SEND: frozenset({S.PENDING, S.COMPLETED, S.REJECTED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
}

TERMINAL: frozenset[S] = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
OPEN: frozenset[S] = frozenset(TRANSITIONS) - TERMINAL
INITIAL = S.RECEIVED_BY_GATEWAY


def can_transition(current: S, target: S) -> bool:
    return target in TRANSITIONS[current]


def transition(current: S, target: S) -> S:
    """Return ``target`` if the model allows ``current -> target``, else raise IllegalTransition."""
    if not can_transition(current, target):
        raise IllegalTransition(f"cancellation cannot move from {current.value} to {target.value}")
    return target


def is_open(status: S) -> bool:
    return status in OPEN
