"""Helpers for the proxy tests: sign and relay appointments, revocations and proxy ballots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.protocol.generated import MandateScope
from ledger.signing.ballots import BallotDomain
from ledger.signing.mandates import (
    MandateDomain,
    Revocation,
    make_mandate,
    make_proxy_ballot,
    mandate_call_arg,
    proxy_ballot_call_arg,
    revocation_call_arg,
    sign_mandate,
    sign_proxy_ballot,
    sign_revocation,
)
from ledger.tx import send


class Proxies:
    """The Mandates contract and the Council's proxy path, driven as a relayer would."""

    def __init__(self, w3: Web3, mandates: Contract, council: Contract, relayer: LocalAccount):
        self.w3 = w3
        self.mandates = mandates
        self.council = council
        self.relayer = relayer
        chain_id = int(w3.eth.chain_id)
        self.mandate_domain = MandateDomain(chain_id, mandates.address)
        self.ballot_domain = BallotDomain(chain_id, council.address)

    def nonce(self, resident: LocalAccount) -> int:
        return int(self.mandates.functions.nonceOf(resident.address).call())

    def mandate_arg(
        self,
        community_id: int,
        resident: LocalAccount,
        proxy: str,
        scope: MandateScope = MandateScope.AllVotes,
        vote_id: int = 0,
        nonce: int | None = None,
        signer: LocalAccount | None = None,
    ) -> tuple[Any, ...]:
        nonce = self.nonce(resident) if nonce is None else nonce
        mandate = make_mandate(community_id, resident.address, proxy, scope, vote_id, nonce)
        return mandate_call_arg(
            mandate, sign_mandate(signer or resident, mandate, self.mandate_domain)
        )

    def appoint(self, *args: tuple[Any, ...]) -> TxReceipt:
        return send(self.w3, self.relayer, self.mandates.functions.appoint(list(args)))

    def appoint_one(self, community_id: int, resident: LocalAccount, proxy: str, **kw: Any) -> str:
        """Appoint and return "appointed" or the skip reason's name."""
        receipt = self.appoint(self.mandate_arg(community_id, resident, proxy, **kw))
        return self.outcome(receipt)

    def revoke_one(
        self, community_id: int, resident: LocalAccount, nonce: int | None = None
    ) -> str:
        nonce = self.nonce(resident) if nonce is None else nonce
        revocation = Revocation(community_id, resident.address, nonce)  # type: ignore[arg-type]
        signed = sign_revocation(resident, revocation, self.mandate_domain)
        call = self.mandates.functions.revoke([revocation_call_arg(revocation, signed)])
        return self.outcome(send(self.w3, self.relayer, call))

    def outcome(self, receipt: TxReceipt) -> str:
        events = self.mandates.events
        skipped = events.MandateSkipped().process_receipt(receipt, errors=DISCARD)
        if skipped:
            from ledger.protocol.generated import MandateSkipReason

            return MandateSkipReason(skipped[0]["args"]["reason"]).name
        if events.MandateAppointed().process_receipt(receipt, errors=DISCARD):
            return "appointed"
        return "revoked"

    def proxy_ballot_arg(
        self,
        proposal_id: int,
        voter: str,
        proxy: LocalAccount,
        option: int,
        signer: LocalAccount | None = None,
    ) -> tuple[Any, ...]:
        ballot = make_proxy_ballot(proposal_id, voter, proxy.address, option)
        signed = sign_proxy_ballot(signer or proxy, ballot, self.ballot_domain)
        return proxy_ballot_call_arg(ballot, signed)

    def cast(self, proposal_id: int, args: Sequence[tuple[Any, ...]]) -> TxReceipt:
        call = self.council.functions.castProxyBallots(proposal_id, list(args))
        return send(self.w3, self.relayer, call)

    def cast_one(self, proposal_id: int, voter: str, proxy: LocalAccount, option: int) -> str:
        """Cast one proxy ballot; "cast" or the skip reason's name."""
        receipt = self.cast(proposal_id, [self.proxy_ballot_arg(proposal_id, voter, proxy, option)])
        return self.proxy_outcomes(receipt)[0]

    def proxy_outcomes(self, receipt: TxReceipt) -> list[str]:
        from ledger.protocol.generated import ProxyBallotSkipReason

        out: list[tuple[int, str]] = []
        events = self.council.events
        for e in events.ProxyBallotCast().process_receipt(receipt, errors=DISCARD):
            out.append((e["logIndex"], "cast"))
        for e in events.ProxyBallotSkipped().process_receipt(receipt, errors=DISCARD):
            out.append((e["logIndex"], ProxyBallotSkipReason(e["args"]["reason"]).name))
        return [name for _, name in sorted(out)]

    def tally(self, proposal_id: int) -> list[int]:
        return [int(x) for x in self.council.functions.tallyOf(proposal_id).call()]

    def by_proxy(self, proposal_id: int) -> int:
        return int(self.council.functions.proxyBallotCount(proposal_id).call())
