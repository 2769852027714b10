"""A whole key generation among n trustees in memory, for the DKG and tally tests."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.secret import dkg
from ledger.secret.group import G, Point, random_scalar
from ledger.secret.transcript import VoteContext


@dataclass
class Ceremony:
    context: VoteContext
    threshold: int
    dealers: dict[int, dkg.Dealer]
    dealings: dict[int, dkg.Dealing]
    comm_secrets: dict[int, int]
    comm_keys: dict[int, Point]

    def received(self, recipient: int, dealer: int) -> int:
        """The share `recipient` decrypts from `dealer`'s dealing (its own: f_k(k))."""
        if dealer == recipient:
            return self.dealers[dealer].share_for(recipient)
        key = dkg.shared_key(self.comm_secrets[recipient], self.comm_keys[dealer])
        encrypted = self.dealings[dealer].encrypted_shares[recipient]
        return dkg.decrypt_share(self.context, dealer, recipient, encrypted, key)

    def commitments(self) -> dict[int, tuple[Point, ...]]:
        return {i: d.commitments for i, d in self.dealings.items()}

    def share(self, k: int, qualified: list[int]) -> int:
        return dkg.secret_share({i: self.received(k, i) for i in qualified}, qualified)


def ceremony(threshold: int, trustees: int, context: VoteContext) -> Ceremony:
    dkg.check_threshold(threshold, trustees)
    indices = range(1, trustees + 1)
    comm_secrets = {k: random_scalar() for k in indices}
    comm_keys = {k: s * G for k, s in comm_secrets.items()}
    dealers = {i: dkg.Dealer.random(i, threshold) for i in indices}
    dealings = {i: d.deal(context, comm_secrets[i], comm_keys) for i, d in dealers.items()}
    return Ceremony(context, threshold, dealers, dealings, comm_secrets, comm_keys)
