"""How ICouncil.BallotKind reads: which kinds are decided by a linked secret vote, and which
read their three options as yes / no / abstain (the rest: one choice among the options)."""

from __future__ import annotations

from typing import Final

from ledger.protocol.generated import BallotKind

SECRET_KINDS: Final = frozenset({BallotKind.SecretYesNoAbstain, BallotKind.SecretMultipleChoice})
YES_NO_KINDS: Final = frozenset({BallotKind.YesNoAbstain, BallotKind.SecretYesNoAbstain})


def is_secret(kind: int) -> bool:
    return kind in SECRET_KINDS


def is_yes_no(kind: int) -> bool:
    return kind in YES_NO_KINDS
