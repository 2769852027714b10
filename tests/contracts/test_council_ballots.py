"""Relayed EIP-712 ballots: batches where a bad ballot is skipped with its reason, replay and
malleability refused, receipts checked from the chain, ballot boxes reused safely."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from ledger.build import Artifact
from ledger.deploy import Deployment
from ledger.errors import ContractRuleBroken
from ledger.protocol.generated import SkipReason
from ledger.signing.ballots import (
    BallotDomain,
    SignedBallot,
    ballot_digest,
    make_ballot,
    malleate,
    sign_ballot,
    to_compact,
)
from ledger.signing.eip712 import SignatureError
from ledger.signing.secp256k1 import HALF_N
from ledger.tx import send
from tests.contract_wrappers.council import NO, YES, BallotReceipt, CouncilContract
from tests.contracts.conftest import Clock, Hall

OpenProposal = Callable[..., int]


def _relay(
    council: CouncilContract, relayer: LocalAccount, pid: int, ballots: list[tuple[object, ...]]
) -> tuple[list[tuple[str, int]], list[tuple[str, SkipReason]]]:
    """Send raw SignedBallot tuples; return (cast (voter, option), skipped (voter, reason))."""
    receipt = send(council.w3, relayer, council.contract.functions.castBallots(pid, ballots))
    result = council.decode_batch(receipt)
    return (
        [(c.voter, c.option) for c in result.cast],
        [(s.voter, s.reason) for s in result.skipped],
    )


def test_batch_counts_every_good_ballot_with_its_digest(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    options = [YES, NO, YES, YES, NO, YES, NO, YES]
    signed = [
        council_client.sign_ballot(r, pid, o) for r, o in zip(hall.residents, options, strict=True)
    ]
    result = council_client.cast_ballots(hall.outsider, pid, signed)
    assert result.skipped == ()
    assert [(c.voter, c.option) for c in result.cast] == [
        (r.address, o) for r, o in zip(hall.residents, options, strict=True)
    ]
    assert [c.digest for c in result.cast] == [s.digest for s in signed]
    assert council_client.tally(pid) == (5, 3, 0)
    for resident, ballot in zip(hall.residents, signed, strict=True):
        onchain = council_client.contract.functions.ballotDigest(
            pid, resident.address, ballot.ballot.option
        ).call()
        assert bytes(onchain) == ballot.digest


def test_bad_ballots_are_skipped_with_reason_and_the_rest_counted(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    r = hall.residents
    good = [council_client.sign_ballot(x, pid, YES).call_arg() for x in r[:3]]
    invalid_option = council_client.sign_ballot(r[3], pid, 3).call_arg()
    # Signed by r[5] for a ballot naming r[4]: the wrong signer.
    forged_for = make_ballot(pid, r[4].address, YES)
    forged = sign_ballot(r[4], forged_for, council_client.domain)
    wrong_signer = sign_ballot(r[5], make_ballot(pid, r[5].address, YES), council_client.domain)
    r_, vs = to_compact(wrong_signer.signature)
    bad_signature = (r[4].address, YES, r_, vs)
    outsider = council_client.sign_ballot(hall.stranger, pid, YES).call_arg()
    duplicate = council_client.sign_ballot(r[0], pid, NO).call_arg()
    batch = [
        good[0],
        invalid_option,
        good[1],
        bad_signature,
        outsider,
        duplicate,
        good[2],
        forged.call_arg(),
    ]
    cast, skipped = _relay(council_client, hall.admin, pid, batch)
    assert cast == [
        (r[0].address, YES),
        (r[1].address, YES),
        (r[2].address, YES),
        (r[4].address, YES),
    ]
    assert skipped == [
        (r[3].address, SkipReason.InvalidOption),
        (r[4].address, SkipReason.BadSignature),
        (hall.stranger.address, SkipReason.NotOnRoll),
        (r[0].address, SkipReason.AlreadyVoted),
    ]
    assert council_client.tally(pid) == (4, 0, 0)


def test_duplicate_ballot_within_one_batch_counts_once(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    ballot = council_client.sign_ballot(hall.signers[0], pid, NO)
    result = council_client.cast_ballots(hall.admin, pid, [ballot, ballot])
    assert len(result.cast) == 1
    assert [s.reason for s in result.skipped] == [SkipReason.AlreadyVoted]
    assert council_client.tally(pid) == (0, 1, 0)


def test_direct_and_relayed_votes_share_one_ballot_box(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    voter = hall.voters[0]
    council_client.cast_vote(voter, pid, YES)
    result = council_client.cast_ballots(
        hall.admin, pid, [council_client.sign_ballot(voter, pid, NO)]
    )
    assert [s.reason for s in result.skipped] == [SkipReason.AlreadyVoted]
    other = hall.voters[1]
    council_client.cast_ballots(hall.admin, pid, [council_client.sign_ballot(other, pid, NO)])
    with pytest.raises(ContractRuleBroken, match=r"^AlreadyVoted\("):
        council_client.cast_vote(other, pid, YES)
    assert council_client.tally(pid) == (1, 1, 0)


def test_ballots_after_closing_are_skipped_as_not_open(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal, clock: Clock
) -> None:
    pid = open_hall_proposal()
    late = [council_client.sign_ballot(s, pid, YES) for s in hall.signers[:2]]
    clock.advance(3601)
    result = council_client.cast_ballots(hall.admin, pid, late)
    assert result.cast == ()
    assert [s.reason for s in result.skipped] == [SkipReason.ProposalNotOpen] * 2
    assert council_client.tally(pid) == (0, 0, 0)


def test_batch_for_unknown_proposal_is_refused(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    ballot = council_client.sign_ballot(hall.signers[0], pid + 1, YES)
    with pytest.raises(ContractRuleBroken, match=r"^UnknownProposal\("):
        council_client.cast_ballots(hall.admin, pid + 1, [ballot])


# ---------------------------------------------------------------- replay and malleability


def test_signature_replayed_on_another_proposal_is_skipped(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    first, second = open_hall_proposal(), open_hall_proposal()
    signed = council_client.sign_ballot(hall.signers[1], first, YES)
    cast, skipped = _relay(council_client, hall.admin, second, [signed.call_arg()])
    assert cast == [] and skipped == [(hall.signers[1].address, SkipReason.BadSignature)]
    cast, _ = _relay(council_client, hall.admin, first, [signed.call_arg()])
    assert cast == [(hall.signers[1].address, YES)]


def test_signature_replayed_on_another_council_contract_is_skipped(
    w3: Web3,
    system: Deployment,
    artifacts: dict[str, Artifact],
    council_client: CouncilContract,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    clock: Clock,
) -> None:
    art = artifacts["Council"]
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = send(
        w3,
        hall.admin,
        factory.constructor(
            system.forwarder.address,
            system.registry.address,
            system.initiatives.address,
            system.mandates.address,
            system.secret.address,
        ),
    )
    twin = CouncilContract(w3, w3.eth.contract(address=receipt["contractAddress"], abi=art.abi))
    now = clock.now()
    from tests.contract_wrappers.council import ProposalParams

    twin_pid = twin.open_proposal(
        hall.committee, ProposalParams(hall.id, b"\x01" * 32, now, now + 600)
    )
    pid = open_hall_proposal()
    assert twin_pid == pid == 1
    signed = council_client.sign_ballot(hall.signers[2], pid, NO)
    cast, skipped = _relay(twin, hall.admin, twin_pid, [signed.call_arg()])
    assert cast == [] and skipped == [(hall.signers[2].address, SkipReason.BadSignature)]
    cast, _ = _relay(council_client, hall.admin, pid, [signed.call_arg()])
    assert cast == [(hall.signers[2].address, NO)]


def test_signature_for_another_chain_id_is_skipped(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    domain = council_client.domain
    other_chain = BallotDomain(domain.chain_id + 1, domain.council)
    signed = sign_ballot(
        hall.signers[3], make_ballot(pid, hall.signers[3].address, YES), other_chain
    )
    cast, skipped = _relay(council_client, hall.admin, pid, [signed.call_arg()])
    assert cast == [] and skipped == [(hall.signers[3].address, SkipReason.BadSignature)]


def test_high_s_twin_of_a_ballot_signature_is_refused(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    voter = hall.signers[4]
    signed = council_client.sign_ballot(voter, pid, YES)
    twin = malleate(signed.signature)
    # The twin is a valid secp256k1 signature by the same key (bare ecrecover accepts it)...
    from eth_account import Account

    assert Account._recover_hash(signed.digest, signature=twin) == voter.address
    # ...but our Python refuses to relay it,
    with pytest.raises(SignatureError, match="malleable"):
        to_compact(twin)
    # and its s (above 2^255 here) cannot be expressed in EIP-2098 form: forced in, the top
    # bit reads as v and the rest as another s, which recovers someone else.
    r_, s_twin = twin[:32], int.from_bytes(twin[32:64], "big")
    assert s_twin > HALF_N
    forced = (voter.address, YES, r_, (s_twin | (1 << 255)).to_bytes(32, "big"))
    cast, skipped = _relay(council_client, hall.admin, pid, [forced])
    assert cast == [] and skipped == [(voter.address, SkipReason.BadSignature)]
    cast, _ = _relay(council_client, hall.admin, pid, [signed.call_arg()])
    assert cast == [(voter.address, YES)]


def test_high_s_value_is_refused_before_recovery(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    voter = hall.signers[0]
    signed = council_client.sign_ballot(voter, pid, YES)
    r_, _ = signed.compact
    # Every s in (n/2, 2^255) is expressible in compact form and is high: refused as malleable.
    for s in (HALF_N + 1, (1 << 255) - 1):
        cast, skipped = _relay(
            council_client, hall.admin, pid, [(voter.address, YES, r_, s.to_bytes(32, "big"))]
        )
        assert cast == [] and skipped == [(voter.address, SkipReason.MalleableSignature)]
    # s == n/2 exactly is still canonical (it just recovers someone else here).
    cast, skipped = _relay(
        council_client, hall.admin, pid, [(voter.address, YES, r_, HALF_N.to_bytes(32, "big"))]
    )
    assert skipped == [(voter.address, SkipReason.BadSignature)]


def test_zero_signature_and_zero_voter_are_bad_signatures(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    zero = b"\x00" * 32
    cast, skipped = _relay(
        council_client,
        hall.admin,
        pid,
        [("0x" + "00" * 20, YES, zero, zero), (hall.signers[0].address, YES, zero, zero)],
    )
    assert cast == []
    assert [reason for _, reason in skipped] == [SkipReason.BadSignature] * 2


def test_malformed_calldata_reverts_the_batch(
    w3: Web3, council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    signed = council_client.sign_ballot(hall.signers[0], pid, YES)
    data = bytearray(
        bytes.fromhex(
            council_client.contract.functions.castBallots(
                pid, [signed.call_arg()]
            )._encode_transaction_data()[2:]
        )
    )
    data[4 + 32 * 3] = 0xFF  # a dirty high byte in the voter word
    with pytest.raises(Exception):  # noqa: B017 - any revert: the node refuses to estimate
        w3.eth.call({"to": council_client.contract.address, "data": bytes(data)})


# ---------------------------------------------------------------- receipts


def test_receipt_verifies_from_chain_and_tampering_is_detected(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    signed = [council_client.sign_ballot(s, pid, NO) for s in hall.signers]
    result = council_client.cast_ballots(hall.admin, pid, signed)
    receipt = result.receipts()[2]
    assert receipt.digest == signed[2].digest
    check = council_client.verify_receipt(
        BallotReceipt.from_json(receipt.as_json()), voter=hall.signers[2].address, option=NO
    )
    assert check.ok and check.voter == hall.signers[2].address and check.confirmations >= 1
    assert not council_client.verify_receipt(receipt, option=YES).ok
    assert not council_client.verify_receipt(receipt, voter=hall.signers[1].address).ok
    wrong_digest = BallotReceipt(receipt.tx_hash, pid, keccak(b"nope"))
    assert not council_client.verify_receipt(wrong_digest).ok
    wrong_proposal = BallotReceipt(receipt.tx_hash, pid + 1, receipt.digest)
    assert not council_client.verify_receipt(wrong_proposal).ok


def test_receipt_digest_is_the_eip712_digest_of_the_voters_ballot(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    result = council_client.cast_ballots(
        hall.admin, pid, [council_client.sign_ballot(hall.signers[0], pid, YES)]
    )
    (cast,) = result.cast
    expected = ballot_digest(make_ballot(pid, hall.signers[0].address, YES), council_client.domain)
    assert cast.digest == expected


# ---------------------------------------------------------------- ballot boxes


def test_closed_proposals_ballot_box_is_reused_without_leaking_votes(
    council_client: CouncilContract,
    hall: Hall,
    open_hall_proposal: OpenProposal,
    clock: Clock,
) -> None:
    first = open_hall_proposal()
    council_client.cast_ballots(
        hall.admin, first, [council_client.sign_ballot(s, first, YES) for s in hall.signers]
    )
    assert council_client.has_voted(first, hall.signers[0].address)
    clock.advance(3601)
    second = open_hall_proposal()  # takes over the first one's box
    with pytest.raises(ContractRuleBroken, match=r"^BallotBoxRecycled\("):
        council_client.has_voted(first, hall.signers[0].address)
    assert not council_client.has_voted(second, hall.signers[0].address)
    result = council_client.cast_ballots(
        hall.admin, second, [council_client.sign_ballot(s, second, NO) for s in hall.signers[:3]]
    )
    assert len(result.cast) == 3
    again = council_client.cast_ballots(
        hall.admin, second, [council_client.sign_ballot(hall.signers[0], second, YES)]
    )
    assert [s.reason for s in again.skipped] == [SkipReason.AlreadyVoted]
    assert council_client.tally(first) == (5, 0, 0)
    assert council_client.tally(second) == (0, 3, 0)


def test_more_open_proposals_than_shared_boxes_each_keep_their_own_votes(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pids = [open_hall_proposal() for _ in range(10)]  # 8 shared boxes, then boxes of their own
    for k, pid in enumerate(pids):
        voters = hall.signers[: 1 + k % 5]
        council_client.cast_ballots(
            hall.admin, pid, [council_client.sign_ballot(s, pid, YES) for s in voters]
        )
    for k, pid in enumerate(pids):
        assert council_client.tally(pid) == (1 + k % 5, 0, 0)
        assert council_client.has_voted(pid, hall.signers[0].address)
        assert council_client.has_voted(pid, hall.signers[4].address) == (k % 5 == 4)


def test_cast_ballots_client_refuses_mixed_proposals(
    council_client: CouncilContract, hall: Hall, open_hall_proposal: OpenProposal
) -> None:
    pid = open_hall_proposal()
    mixed: list[SignedBallot] = [
        council_client.sign_ballot(hall.signers[0], pid, YES),
        council_client.sign_ballot(hall.signers[1], pid + 1, YES),
    ]
    with pytest.raises(ValueError, match="every ballot"):
        council_client.cast_ballots(hall.admin, pid, mixed)
