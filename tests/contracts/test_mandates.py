"""Mandates: appointment and revocation signed by the resident and relayed in batches (every rule
both ways), the per-proxy limit set by the admin, and what `proxiesFor` says covers a vote."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import MandateScope
from ledger.signing.mandates import Revocation, revocation_call_arg, sign_revocation
from ledger.tx import send
from tests.contracts.conftest import Hall
from tests.contracts.mandates_support import Proxies

ZERO = "0x" + "00" * 20


@pytest.fixture
def proxies(w3: Web3, system: Deployment, accounts: list[LocalAccount]) -> Proxies:
    return Proxies(w3, system.mandates, system.council, accounts[8])


def _mandate(proxies: Proxies, hall: Hall, resident: LocalAccount) -> tuple[str, int, int]:
    view = proxies.mandates.functions.mandateOf(hall.id, resident.address).call()
    return (view.proxy, view.scope, view.voteId)


def test_resident_appoints_a_proxy_for_every_vote(proxies: Proxies, hall: Hall) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    assert proxies.appoint_one(hall.id, resident, proxy.address) == "appointed"
    assert _mandate(proxies, hall, resident) == (proxy.address, MandateScope.AllVotes, 0)
    assert proxies.mandates.functions.mandatesHeld(hall.id, proxy.address).call() == 1
    assert proxies.nonce(resident) == 1


def test_appointment_refused_for_self_as_proxy(proxies: Proxies, hall: Hall) -> None:
    resident = hall.signers[0]
    assert proxies.appoint_one(hall.id, resident, resident.address) == "SelfProxy"
    assert _mandate(proxies, hall, resident)[0] == ZERO
    assert proxies.nonce(resident) == 0


def test_appointment_refused_for_a_proxy_not_on_the_roll(proxies: Proxies, hall: Hall) -> None:
    assert proxies.appoint_one(hall.id, hall.signers[0], hall.stranger.address) == "ProxyNotOnRoll"


def test_appointment_refused_from_a_resident_not_on_the_roll(proxies: Proxies, hall: Hall) -> None:
    assert proxies.appoint_one(hall.id, hall.stranger, hall.signers[0].address) == (
        "ResidentNotOnRoll"
    )


def test_appointment_refused_when_signed_by_someone_else(proxies: Proxies, hall: Hall) -> None:
    arg = proxies.mandate_arg(
        hall.id, hall.signers[0], hall.signers[1].address, signer=hall.signers[2]
    )
    assert proxies.outcome(proxies.appoint(arg)) == "BadSignature"


def test_appointment_replayed_after_revocation_is_refused(proxies: Proxies, hall: Hall) -> None:
    resident, proxy = hall.signers[0], hall.signers[1]
    arg = proxies.mandate_arg(hall.id, resident, proxy.address)
    assert proxies.outcome(proxies.appoint(arg)) == "appointed"
    assert proxies.revoke_one(hall.id, resident) == "revoked"
    assert proxies.outcome(proxies.appoint(arg)) == "StaleNonce"
    assert _mandate(proxies, hall, resident)[0] == ZERO


@pytest.mark.parametrize(
    ("scope", "vote_id"),
    [(MandateScope.AllVotes, 1), (MandateScope.Proposal, 0), (MandateScope.Election, 2**64)],
)
def test_appointment_refused_with_a_scope_that_names_no_vote(
    proxies: Proxies, hall: Hall, scope: MandateScope, vote_id: int
) -> None:
    outcome = proxies.appoint_one(
        hall.id, hall.signers[0], hall.signers[1].address, scope=scope, vote_id=vote_id
    )
    assert outcome == "InvalidScope"


def test_proxy_over_the_default_limit_of_two_is_refused(proxies: Proxies, hall: Hall) -> None:
    proxy = hall.signers[0]
    assert proxies.mandates.functions.proxyLimit(hall.id).call() == 2
    assert proxies.appoint_one(hall.id, hall.signers[1], proxy.address) == "appointed"
    assert proxies.appoint_one(hall.id, hall.signers[2], proxy.address) == "appointed"
    assert proxies.appoint_one(hall.id, hall.signers[3], proxy.address) == "ProxyOverLimit"
    # A mandate for one proposal counts as much as one for every vote.
    assert (
        proxies.appoint_one(
            hall.id, hall.signers[3], proxy.address, scope=MandateScope.Proposal, vote_id=7
        )
        == "ProxyOverLimit"
    )


def test_revocation_frees_a_place_under_the_limit(proxies: Proxies, hall: Hall) -> None:
    proxy = hall.signers[0]
    for resident in hall.signers[1:3]:
        proxies.appoint_one(hall.id, resident, proxy.address)
    assert proxies.revoke_one(hall.id, hall.signers[1]) == "revoked"
    assert proxies.appoint_one(hall.id, hall.signers[3], proxy.address) == "appointed"
    assert proxies.mandates.functions.mandatesHeld(hall.id, proxy.address).call() == 2


def test_reappointing_the_same_proxy_for_another_scope_is_not_over_the_limit(
    proxies: Proxies, hall: Hall
) -> None:
    proxy = hall.signers[0]
    for resident in hall.signers[1:3]:
        proxies.appoint_one(hall.id, resident, proxy.address)
    outcome = proxies.appoint_one(
        hall.id, hall.signers[1], proxy.address, scope=MandateScope.Proposal, vote_id=3
    )
    assert outcome == "appointed"
    assert proxies.mandates.functions.mandatesHeld(hall.id, proxy.address).call() == 2


def test_appointing_another_proxy_replaces_the_mandate(proxies: Proxies, hall: Hall) -> None:
    resident, first, second = hall.signers[0], hall.signers[1], hall.signers[2]
    proxies.appoint_one(hall.id, resident, first.address)
    receipt = proxies.appoint(proxies.mandate_arg(hall.id, resident, second.address))
    (revoked,) = proxies.mandates.events.MandateRevoked().process_receipt(receipt, errors=DISCARD)
    assert revoked["args"]["proxy"] == first.address
    assert _mandate(proxies, hall, resident)[0] == second.address
    assert proxies.mandates.functions.mandatesHeld(hall.id, first.address).call() == 0


def test_revocation_without_a_mandate_is_skipped(proxies: Proxies, hall: Hall) -> None:
    assert proxies.revoke_one(hall.id, hall.signers[0]) == "NoMandate"


def test_revocation_signed_by_someone_else_is_skipped(
    w3: Web3, proxies: Proxies, hall: Hall
) -> None:
    resident = hall.signers[0]
    proxies.appoint_one(hall.id, resident, hall.signers[1].address)
    revocation = Revocation(hall.id, resident.address, proxies.nonce(resident))  # type: ignore[arg-type]
    signed = sign_revocation(hall.signers[2], revocation, proxies.mandate_domain)
    call = proxies.mandates.functions.revoke([revocation_call_arg(revocation, signed)])
    assert proxies.outcome(send(w3, proxies.relayer, call)) == "BadSignature"
    assert _mandate(proxies, hall, resident)[0] == hall.signers[1].address


def test_admin_sets_the_limit_with_an_event(w3: Web3, proxies: Proxies, hall: Hall) -> None:
    receipt = send(w3, hall.admin, proxies.mandates.functions.setProxyLimit(hall.id, 1))
    (event,) = proxies.mandates.events.ProxyLimitSet().process_receipt(receipt)
    assert (event["args"]["limit"], event["args"]["setBy"]) == (1, hall.admin.address)
    assert proxies.appoint_one(hall.id, hall.signers[1], hall.signers[0].address) == "appointed"
    assert proxies.appoint_one(hall.id, hall.signers[2], hall.signers[0].address) == (
        "ProxyOverLimit"
    )


def test_limit_refused_from_anyone_but_the_admin(w3: Web3, proxies: Proxies, hall: Hall) -> None:
    with pytest.raises(ContractRuleBroken, match=r"^NotCommunityAdmin\("):
        send(w3, hall.committee, proxies.mandates.functions.setProxyLimit(hall.id, 5))


def test_a_batch_goes_on_past_a_skipped_appointment(proxies: Proxies, hall: Hall) -> None:
    bad = proxies.mandate_arg(hall.id, hall.signers[0], hall.signers[0].address)
    good = proxies.mandate_arg(hall.id, hall.signers[1], hall.signers[0].address)
    receipt = proxies.appoint(bad, good)
    appointed = proxies.mandates.events.MandateAppointed().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["resident"] for e in appointed] == [hall.signers[1].address]


def test_proxies_for_covers_the_scoped_vote_only(proxies: Proxies, hall: Hall) -> None:
    a, b, c, proxy = hall.signers[0], hall.signers[1], hall.signers[2], hall.signers[3]
    proxies.appoint_one(hall.id, a, proxy.address)
    proxies.appoint_one(hall.id, b, proxy.address, scope=MandateScope.Proposal, vote_id=5)
    residents = [a.address, b.address, c.address]
    of = proxies.mandates.functions.proxiesFor
    assert of(hall.id, MandateScope.Proposal, 5, residents).call() == [
        proxy.address,
        proxy.address,
        ZERO,
    ]
    assert of(hall.id, MandateScope.Proposal, 6, residents).call() == [proxy.address, ZERO, ZERO]
    assert of(hall.id, MandateScope.Election, 5, residents).call() == [proxy.address, ZERO, ZERO]


def test_hand_laid_digests_equal_the_contracts(proxies: Proxies, hall: Hall) -> None:
    from ledger.signing.eip712 import domain_separator
    from ledger.signing.mandates import (
        make_mandate,
        make_proxy_ballot,
        mandate_digest,
        proxy_ballot_digest,
        revocation_digest,
    )

    a, b = hall.signers[0].address, hall.signers[1].address
    m = make_mandate(hall.id, a, b, MandateScope.Proposal, 9, 3)
    v = Revocation(hall.id, a, 4)  # type: ignore[arg-type]
    p = make_proxy_ballot(5, a, b, 2)
    msep = domain_separator(proxies.mandate_domain.as_dict())
    csep = domain_separator(proxies.ballot_domain.as_dict())
    on_chain = proxies.mandates.functions
    assert mandate_digest(msep, m) == on_chain.mandateDigest(hall.id, a, b, 1, 9, 3).call()
    assert revocation_digest(msep, v) == on_chain.revocationDigest(hall.id, a, 4).call()
    council = proxies.council.functions
    assert proxy_ballot_digest(csep, p) == council.proxyBallotDigest(5, a, b, 2).call()
