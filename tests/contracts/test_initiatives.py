"""Initiatives: rules set by the admin, submission by a resident at the roll snapshot, relayed
co-signatures (every rule both ways), promotion into a council proposal at the threshold in the
batch that reaches it, expiry, and the gas of a co-signature in a batch of 100."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import (
    CoSignatureSkipReason,
    InitiativeRules,
    InitiativeState,
    ProposalState,
    Roles,
)
from ledger.signing.cosignatures import CoSignatureDomain, sign_cosignature
from ledger.signing.eip712 import to_compact
from ledger.signing.secp256k1 import HALF_N
from tests.contract_wrappers.council import CouncilContract, ProposalParams
from tests.contract_wrappers.initiatives import RULES, InitiativesContract
from tests.contract_wrappers.registry import RegistryContract
from tests.contracts.conftest import Clock, Hall, signer_keys

Skip = CoSignatureSkipReason
LIFETIME = 400 * 24 * 3600
GAS_TARGET_PER_COSIGNATURE = 15_000


def _refused(error: str) -> pytest.RaisesExc[ContractRuleBroken]:
    return pytest.raises(ContractRuleBroken, match=rf"^{error}\(")


@pytest.fixture
def initiatives(w3: Web3, system: Deployment) -> InitiativesContract:
    return InitiativesContract(w3, system.initiatives)


@pytest.fixture
def enabled(initiatives: InitiativesContract, hall: Hall) -> Hall:
    """The hall (8 residents) with rules: half the roll (4 co-signatures), an hour each."""
    initiatives.set_rules(hall.admin, hall.id)
    return hall


Relay = Callable[..., object]


# ---------------------------------------------------------------- rules


def test_admin_sets_rules_with_an_event(initiatives: InitiativesContract, hall: Hall) -> None:
    rules = InitiativeRules(1000, 7200, 86400, 2000, 6000)
    receipt = initiatives.set_rules(hall.admin, hall.id, rules)
    (event,) = initiatives.contract.events.InitiativeRulesSet().process_receipt(receipt)
    assert event["args"]["communityId"] == hall.id
    assert InitiativeRules(**event["args"]["rules"]) == rules
    assert event["args"]["setBy"] == hall.admin.address
    assert tuple(initiatives.contract.functions.rulesOf(hall.id).call()) == tuple(rules)


def test_rules_refused_from_anyone_but_the_admin(
    initiatives: InitiativesContract, hall: Hall
) -> None:
    with _refused("NotCommunityAdmin"):
        initiatives.set_rules(hall.committee, hall.id)


@pytest.mark.parametrize(
    "rules",
    [
        RULES._replace(thresholdBps=0),
        RULES._replace(thresholdBps=10_001),
        RULES._replace(signingPeriod=0),
        RULES._replace(signingPeriod=LIFETIME + 1),
        RULES._replace(votingPeriod=0),
        RULES._replace(votingPeriod=LIFETIME + 1),
        RULES._replace(quorumBps=10_001),
        RULES._replace(passBps=4999),
        RULES._replace(passBps=10_000),
    ],
)
def test_rules_the_council_would_refuse_are_refused_when_set(
    initiatives: InitiativesContract, hall: Hall, rules: InitiativeRules
) -> None:
    with _refused("InvalidInitiativeRules"):
        initiatives.set_rules(hall.admin, hall.id, rules)


def test_rules_at_their_bounds_are_accepted(initiatives: InitiativesContract, hall: Hall) -> None:
    initiatives.set_rules(
        hall.admin, hall.id, InitiativeRules(10_000, LIFETIME, LIFETIME, 10_000, 9999)
    )
    initiatives.set_rules(hall.admin, hall.id, InitiativeRules(1, 1, 1, 0, 5000))


# ---------------------------------------------------------------- submission


def test_submission_refused_before_the_admin_sets_rules(
    initiatives: InitiativesContract, hall: Hall
) -> None:
    with _refused("InitiativesNotEnabled"):
        initiatives.submit(hall.voters[0], hall.id)


def test_submission_refused_from_someone_not_on_the_roll(
    initiatives: InitiativesContract, enabled: Hall
) -> None:
    with _refused("AuthorNotOnRoll"):
        initiatives.submit(enabled.outsider, enabled.id)
    with _refused("AuthorNotOnRoll"):
        initiatives.submit(enabled.committee, enabled.id)  # a role is not a place on the roll


def test_submission_refused_without_text_or_with_a_bad_currency(
    initiatives: InitiativesContract, enabled: Hall
) -> None:
    with _refused("MissingTextHash"):
        initiatives.submit(enabled.voters[0], enabled.id, text_hash=bytes(32))
    with _refused("InvalidBudget"):
        initiatives.submit(enabled.voters[0], enabled.id, budget=500, currency=b"cny")


def test_submission_snapshots_the_roll_and_rounds_the_threshold_up(
    initiatives: InitiativesContract,
    registry_client: RegistryContract,
    hall: Hall,
    clock: Clock,
) -> None:
    # 3 700 bps of 8 residents is 2.96: three co-signatures are needed.
    rules = RULES._replace(thresholdBps=3700)
    initiatives.set_rules(hall.admin, hall.id, rules)
    iid = initiatives.submit(hall.voters[0], hall.id, budget=90_000, currency=b"CNY")
    view = initiatives.get(iid)
    snapshot = registry_client.roll_snapshot(hall.id)
    assert (view.rollVersion, view.rollSize, view.needed) == (snapshot.version, 8, 3)
    assert view.author == hall.voters[0].address
    assert (view.budgetAmount, bytes(view.budgetCurrency)) == (90_000, b"CNY")
    assert view.closesAt == view.opensAt + rules.signingPeriod
    assert view.state == InitiativeState.Collecting and view.coSignatures == 0
    assert tuple(view.rules) == tuple(rules)


def test_threshold_is_at_least_one_co_signature(
    initiatives: InitiativesContract, hall: Hall
) -> None:
    initiatives.set_rules(hall.admin, hall.id, RULES._replace(thresholdBps=1))
    assert initiatives.get(initiatives.submit(hall.voters[0], hall.id)).needed == 1


# ---------------------------------------------------------------- co-signatures


def test_co_signatures_are_counted_with_the_digest_the_resident_signed(
    initiatives: InitiativesContract, enabled: Hall, accounts: list[LocalAccount]
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    signed = [initiatives.sign(r, iid) for r in enabled.signers[:3]]
    batch = initiatives.co_sign(accounts[9], iid, signed)
    assert batch.cosigned == tuple(s.signer for s in signed) and batch.skipped == ()
    assert initiatives.get(iid).coSignatures == 3
    logged = initiatives.contract.events.CoSigned().process_receipt(batch.receipt)
    for event, s in zip(logged, signed, strict=True):
        assert bytes(event["args"]["digest"]) == s.digest
        onchain = initiatives.contract.functions.coSignatureDigest(iid, s.signer).call()
        assert bytes(onchain) == s.digest
    assert all(initiatives.has_cosigned(iid, s.signer) for s in signed)
    assert not initiatives.has_cosigned(iid, enabled.signers[3].address)


def test_bad_co_signatures_are_skipped_with_their_reason_and_the_rest_counted(
    initiatives: InitiativesContract, enabled: Hall, accounts: list[LocalAccount]
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    s = enabled.signers
    good = initiatives.sign(s[0], iid)
    by_other = initiatives.sign(s[2], iid)
    wrong_signer = (s[1].address, *to_compact(by_other.signature))  # s[2] signed, naming s[1]
    # Every s in (n/2, 2^255) is expressible in compact form and is high: refused before recovery.
    r, _ = to_compact(initiatives.sign(s[3], iid).signature)
    malleable = (s[3].address, r, (HALF_N + 1).to_bytes(32, "big"))
    stranger = initiatives.sign(enabled.stranger, iid)
    batch = initiatives.co_sign(accounts[9], iid, [good, wrong_signer, malleable, stranger, good])
    assert batch.cosigned == (s[0].address,)
    assert batch.skipped == (
        (s[1].address, Skip.BadSignature),
        (s[3].address, Skip.MalleableSignature),
        (enabled.stranger.address, Skip.NotOnRoll),
        (s[0].address, Skip.AlreadyCoSigned),
    )
    assert initiatives.get(iid).coSignatures == 1
    # A later batch cannot count the same resident again either.
    again = initiatives.co_sign(accounts[9], iid, [good])
    assert again.skipped == ((s[0].address, Skip.AlreadyCoSigned),)
    assert initiatives.get(iid).coSignatures == 1


def test_a_co_signature_cannot_be_replayed_on_another_initiative_or_contract(
    w3: Web3, initiatives: InitiativesContract, enabled: Hall, accounts: list[LocalAccount]
) -> None:
    first = initiatives.submit(enabled.voters[0], enabled.id)
    second = initiatives.submit(enabled.voters[1], enabled.id)
    for_first = initiatives.sign(enabled.signers[0], first)
    elsewhere = CoSignatureDomain(int(w3.eth.chain_id), enabled.admin.address)
    for_other_contract = sign_cosignature(enabled.signers[1], second, elsewhere)
    batch = initiatives.co_sign(accounts[9], second, [for_first, for_other_contract])
    assert batch.skipped == (
        (enabled.signers[0].address, Skip.BadSignature),
        (enabled.signers[1].address, Skip.BadSignature),
    )
    assert initiatives.get(second).coSignatures == 0


def test_eligibility_is_the_roll_published_when_the_initiative_was_submitted(
    initiatives: InitiativesContract,
    registry_client: RegistryContract,
    enabled: Hall,
    accounts: list[LocalAccount],
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    leaver = enabled.signers[0]
    registry_client.update_roll(
        enabled.admin, enabled.id, [enabled.stranger.address], [leaver.address]
    )
    batch = initiatives.co_sign(
        accounts[9], iid, [initiatives.sign(leaver, iid), initiatives.sign(enabled.stranger, iid)]
    )
    assert batch.cosigned == (leaver.address,)
    assert batch.skipped == ((enabled.stranger.address, Skip.NotOnRoll),)


def test_co_signatures_after_the_window_are_skipped_and_the_initiative_stays_readable(
    initiatives: InitiativesContract, enabled: Hall, clock: Clock, accounts: list[LocalAccount]
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    initiatives.co_sign(accounts[9], iid, [initiatives.sign(enabled.signers[0], iid)])
    clock.advance(RULES.signingPeriod)
    late = [initiatives.sign(r, iid) for r in enabled.signers[1:5]]
    batch = initiatives.co_sign(accounts[9], iid, late)
    assert batch.cosigned == () and batch.promoted_to is None
    assert {reason for _, reason in batch.skipped} == {Skip.InitiativeNotCollecting}
    view = initiatives.get(iid)
    assert (view.state, view.coSignatures, view.proposalId) == (InitiativeState.Expired, 1, 0)


def test_the_last_second_of_the_window_still_counts(
    initiatives: InitiativesContract, enabled: Hall, clock: Clock, accounts: list[LocalAccount]
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    closes_at = initiatives.get(iid).closesAt
    clock.advance(closes_at - clock.now() - 2)  # the batch's block is stamped closesAt - 1
    batch = initiatives.co_sign(accounts[9], iid, [initiatives.sign(enabled.signers[0], iid)])
    assert batch.cosigned == (enabled.signers[0].address,)


def test_a_batch_with_a_dirty_signer_word_reverts_as_malformed_calldata(
    w3: Web3, initiatives: InitiativesContract, enabled: Hall
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    signed = initiatives.sign(enabled.signers[0], iid)
    call = initiatives.contract.functions.coSign(iid, [signed.call_arg()])
    data = bytearray(bytes.fromhex(call._encode_transaction_data()[2:]))
    clean = bytes(data)
    # selector, initiativeId, offset, length, then the signer word: a dirty high byte in it.
    data[4 + 32 * 3] = 0xFF
    w3.eth.call({"to": initiatives.contract.address, "data": clean})
    with pytest.raises(Exception):  # noqa: B017 - any revert: the node refuses to run it
        w3.eth.call({"to": initiatives.contract.address, "data": bytes(data)})


def test_unknown_initiative_reverts(initiatives: InitiativesContract, enabled: Hall) -> None:
    with _refused("UnknownInitiative"):
        initiatives.co_sign(enabled.admin, 99, [])


# ---------------------------------------------------------------- threshold and promotion


def test_one_short_of_the_threshold_opens_nothing(
    initiatives: InitiativesContract, enabled: Hall, accounts: list[LocalAccount]
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    batch = initiatives.co_sign(
        accounts[9], iid, [initiatives.sign(r, iid) for r in enabled.signers[:3]]
    )
    assert batch.promoted_to is None
    view = initiatives.get(iid)
    assert (view.state, view.coSignatures, view.needed) == (InitiativeState.Collecting, 3, 4)


def test_the_batch_that_reaches_the_threshold_opens_the_council_proposal(
    initiatives: InitiativesContract,
    council_client: CouncilContract,
    system: Deployment,
    hall: Hall,
    clock: Clock,
    accounts: list[LocalAccount],
) -> None:
    rules = RULES._replace(votingPeriod=7200, quorumBps=2500, passBps=6000)
    initiatives.set_rules(hall.admin, hall.id, rules)
    iid = initiatives.submit(
        hall.voters[0], hall.id, text_hash=b"\x66" * 32, budget=12_000, currency=b"EUR"
    )
    initiatives.co_sign(accounts[9], iid, [initiatives.sign(r, iid) for r in hall.signers[:3]])
    batch = initiatives.co_sign(
        accounts[9], iid, [initiatives.sign(r, iid) for r in hall.signers[3:5]]
    )
    assert batch.promoted_to is not None
    (event,) = initiatives.contract.events.InitiativePromoted().process_receipt(
        batch.receipt, errors=DISCARD
    )
    assert (event["args"]["initiativeId"], event["args"]["coSignatures"]) == (iid, 5)
    view = initiatives.get(iid)
    assert (view.state, view.proposalId) == (InitiativeState.Promoted, batch.promoted_to)
    proposal = council_client.proposal(batch.promoted_to)
    assert proposal.proposer == system.initiatives.address
    assert (proposal.community_id, proposal.text_hash) == (hall.id, b"\x66" * 32)
    assert (proposal.budget_amount, proposal.budget_currency) == (12_000, b"EUR")
    assert (proposal.option_count, proposal.quorum_bps, proposal.threshold_bps) == (3, 2500, 6000)
    assert proposal.closes_at - proposal.opens_at == 7200
    assert proposal.state == ProposalState.Open
    # Residents vote on it like on any other proposal.
    council_client.cast_vote(hall.voters[1], batch.promoted_to, 0)


def test_co_signatures_after_promotion_are_skipped(
    initiatives: InitiativesContract, enabled: Hall, accounts: list[LocalAccount]
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    reached = initiatives.co_sign(
        accounts[9], iid, [initiatives.sign(r, iid) for r in enabled.signers[:4]]
    )
    assert reached.promoted_to is not None
    late = initiatives.co_sign(accounts[9], iid, [initiatives.sign(enabled.signers[4], iid)])
    assert late.skipped == ((enabled.signers[4].address, Skip.InitiativeNotCollecting),)
    assert initiatives.get(iid).proposalId == reached.promoted_to


def test_a_hostile_committee_and_admin_cannot_hold_back_a_reached_initiative(
    initiatives: InitiativesContract,
    registry_client: RegistryContract,
    council_client: CouncilContract,
    enabled: Hall,
    accounts: list[LocalAccount],
) -> None:
    iid = initiatives.submit(enabled.voters[0], enabled.id)
    # The whole committee is gone and the admin demands unanimity, after the initiative opened.
    registry_client.revoke_role(
        enabled.admin, enabled.id, Roles.COMMITTEE, enabled.committee.address
    )
    assert registry_client.committee_size(enabled.id) == 0
    initiatives.set_rules(enabled.admin, enabled.id, RULES._replace(thresholdBps=10_000))
    batch = initiatives.co_sign(
        accounts[9], iid, [initiatives.sign(r, iid) for r in enabled.signers[:4]]
    )
    assert batch.promoted_to is not None
    assert council_client.proposal(batch.promoted_to).state == ProposalState.Open


def test_nobody_but_the_initiatives_contract_opens_proposals_without_the_committee_role(
    council_client: CouncilContract, hall: Hall, clock: Clock
) -> None:
    now = clock.now()
    with _refused("NotCommittee"):
        council_client.open_proposal(
            hall.voters[0], ProposalParams(hall.id, b"\x01" * 32, now, now + 600)
        )


def test_initiatives_names_the_council_and_registry_it_was_deployed_with(
    system: Deployment,
) -> None:
    assert system.initiatives.functions.council().call() == system.council.address
    assert system.initiatives.functions.registry().call() == system.registry.address


# ---------------------------------------------------------------- gas


def test_a_co_signature_in_a_batch_of_100_costs_at_most_15000_gas(
    w3: Web3,
    initiatives: InitiativesContract,
    registry_client: RegistryContract,
    accounts: list[LocalAccount],
) -> None:
    admin = accounts[0]
    community = registry_client.create_community(admin, b"\x99" * 32)
    registry_client.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    residents = [accounts[1], *signer_keys(300, "gas")]
    registry_client.update_roll(admin, community, [r.address for r in residents])
    initiatives.set_rules(admin, community, RULES._replace(thresholdBps=10_000))
    iid = initiatives.submit(accounts[1], community)
    signers = residents[1:]
    per_cosignature = []
    for start in (0, 100, 200):
        signed = [initiatives.sign(r, iid) for r in signers[start : start + 100]]
        batch = initiatives.co_sign(accounts[9], iid, signed)
        assert len(batch.cosigned) == 100
        per_cosignature.append(batch.gas_used / 100)
    assert max(per_cosignature) <= GAS_TARGET_PER_COSIGNATURE, per_cosignature


# ---------------------------------------------------------------- co-signer bitmaps


def test_a_later_initiative_reuses_a_finished_ones_bitmap_and_counts_afresh(
    initiatives: InitiativesContract, enabled: Hall, clock: Clock, accounts: list[LocalAccount]
) -> None:
    first = initiatives.submit(enabled.voters[0], enabled.id)
    signed = [initiatives.sign(r, first) for r in enabled.signers[:2]]
    initiatives.co_sign(accounts[9], first, signed)
    assert initiatives.has_cosigned(first, enabled.signers[0].address)
    clock.advance(RULES.signingPeriod)  # the first expires: its bitmap is free again
    second = initiatives.submit(enabled.voters[1], enabled.id)
    assert not initiatives.has_cosigned(second, enabled.signers[0].address)
    batch = initiatives.co_sign(
        accounts[9], second, [initiatives.sign(r, second) for r in enabled.signers[:3]]
    )
    assert len(batch.cosigned) == 3 and batch.skipped == ()
    assert initiatives.get(second).coSignatures == 3
    assert initiatives.get(first).coSignatures == 2  # the count stays
    with _refused("CoSignerBitmapRecycled"):
        initiatives.has_cosigned(first, enabled.signers[0].address)


def test_initiatives_collecting_at_once_keep_their_own_co_signers(
    initiatives: InitiativesContract, enabled: Hall, accounts: list[LocalAccount]
) -> None:
    # More initiatives than shared bitmaps (8): the ninth gets one of its own.
    ids = [initiatives.submit(enabled.voters[k % 3], enabled.id) for k in range(9)]
    for iid in ids:
        initiatives.co_sign(accounts[9], iid, [initiatives.sign(enabled.signers[0], iid)])
    for iid in ids:
        assert initiatives.get(iid).coSignatures == 1
        assert initiatives.has_cosigned(iid, enabled.signers[0].address)
        assert not initiatives.has_cosigned(iid, enabled.signers[1].address)


def test_a_fresh_bitmap_primed_at_submission_counts_each_roll_index_once_across_its_words(
    initiatives: InitiativesContract,
    registry_client: RegistryContract,
    accounts: list[LocalAccount],
) -> None:
    """The community's first initiative primes its fresh bitmap (tag 0, which names no
    initiative): the residents on either side of each word's edge (224 a word) co-sign once
    each, a second co-signature of each is refused, and nobody else counts as co-signed; a
    second initiative at once gets its own fresh bitmap and starts empty."""
    admin = accounts[0]
    community = registry_client.create_community(admin, b"\x9a" * 32)
    registry_client.grant_role(admin, community, Roles.REGISTRAR, admin.address)
    residents = [accounts[1], *signer_keys(470, "edges")]  # roll index = position
    registry_client.update_roll(admin, community, [r.address for r in residents[:240]])
    registry_client.update_roll(admin, community, [r.address for r in residents[240:]])
    initiatives.set_rules(admin, community, RULES._replace(thresholdBps=10_000))
    iid = initiatives.submit(accounts[1], community)
    edges = [1, 223, 224, 447, 448, 470]
    signed = [initiatives.sign(residents[i], iid) for i in edges]
    assert initiatives.co_sign(accounts[9], iid, signed).skipped == ()
    again = initiatives.co_sign(accounts[9], iid, signed)
    assert again.skipped == tuple((residents[i].address, Skip.AlreadyCoSigned) for i in edges)
    for i, resident in enumerate(residents):
        assert initiatives.has_cosigned(iid, resident.address) == (i in edges), i
    other = initiatives.submit(accounts[1], community)  # the first still collects
    assert not any(initiatives.has_cosigned(other, residents[i].address) for i in edges)
    assert initiatives.get(iid).coSignatures == len(edges)
