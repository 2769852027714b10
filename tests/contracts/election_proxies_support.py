"""Helpers for the election proxy tests: sign and relay proxy ballots, read what Elections holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.protocol.generated import ElectionProxySkipReason
from ledger.signing.election_proxy_ballots import (
    ElectionProxyDomain,
    election_proxy_ballot_call_arg,
    make_election_proxy_ballot,
    sign_election_proxy_ballot,
)
from ledger.tx import send


class ElectionProxies:
    """The ElectionProxies contract driven as a relayer would, and Elections' proxy views."""

    def __init__(
        self, w3: Web3, contract: Contract, elections: Contract, relayer: LocalAccount
    ) -> None:
        self.w3 = w3
        self.contract = contract
        self.elections = elections
        self.relayer = relayer
        self.domain = ElectionProxyDomain(int(w3.eth.chain_id), contract.address)

    def arg(
        self,
        election_id: int,
        voter: str,
        proxy: LocalAccount,
        choices: int,
        signer: LocalAccount | None = None,
    ) -> tuple[Any, ...]:
        ballot = make_election_proxy_ballot(election_id, voter, proxy.address, choices)
        signed = sign_election_proxy_ballot(signer or proxy, ballot, self.domain)
        return election_proxy_ballot_call_arg(ballot, signed)

    def cast(self, election_id: int, args: Sequence[tuple[Any, ...]]) -> TxReceipt:
        call = self.contract.functions.castElectionProxyBallots(election_id, list(args))
        return send(self.w3, self.relayer, call)

    def cast_one(self, election_id: int, voter: str, proxy: LocalAccount, choices: int) -> str:
        """Cast one proxy ballot; "cast" or the skip reason's name."""
        return self.outcomes(
            self.cast(election_id, [self.arg(election_id, voter, proxy, choices)])
        )[0]

    def outcomes(self, receipt: TxReceipt) -> list[str]:
        out: list[tuple[int, str]] = []
        for e in self.elections.events.ElectionProxyBallotCast().process_receipt(
            receipt, errors=DISCARD
        ):
            out.append((e["logIndex"], "cast"))
        # Both contracts emit the skip (IElections declares it): decoded by topic, from either.
        for e in self.elections.events.ElectionProxyBallotSkipped().process_receipt(
            receipt, errors=DISCARD
        ):
            out.append((e["logIndex"], ElectionProxySkipReason(e["args"]["reason"]).name))
        return [name for _, name in sorted(out)]

    def proxy_ballot_of(self, election_id: int, voter: str) -> tuple[str, int]:
        proxy, choices = self.elections.functions.proxyBallotOf(election_id, voter).call()
        return str(proxy), int(choices)

    def cast_by(self, election_id: int, proxy: str) -> int:
        return int(self.elections.functions.proxyBallotsBy(election_id, proxy).call())

    def by_proxy(self, election_id: int) -> int:
        return int(self.elections.functions.proxyBallotCount(election_id).call())

    def stored(self, election_id: int) -> list[int]:
        return [int(b) for b in self.elections.functions.storedBallots(election_id, 0, 1000).call()]
