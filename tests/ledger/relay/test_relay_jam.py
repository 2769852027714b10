"""Nothing a sender puts in the outbox can stop the relay: a batch that cannot go as a whole is
split until the message at fault stands alone and is refused with its own reason, while every
other kind, target and message goes on landing."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.build import Artifact
from ledger.config import Settings
from ledger.deploy import Deployment
from ledger.errors import InvalidMessage
from ledger.hashing import checksum_address
from ledger.node import rpc
from ledger.relay.ballots import BallotRelay
from ledger.relay.forwards import ForwardRelay
from ledger.relay.message import Receipt
from ledger.relay.outbox import Outbox
from ledger.relay.relayer import Relayer
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.signing.eip712 import recover_address_bytes
from ledger.signing.forwards import sign_forward_request
from ledger.tx import TX_GAS_CAP, ErrorDecoder, send
from tests.relay_support import REGISTRAR, open_election, settle, stepped

ROLL_CHUNK = 380  # what the outsider sent: ~9.2M gas each


@dataclass
class Relay:
    outbox: Outbox
    forward: ForwardRelay
    ballots: BallotRelay
    relayer: Relayer

    def accept(self, kind: ForwardRelay | BallotRelay, payload: dict) -> Receipt:
        message = kind.parse(payload)
        kind.check(message)
        return self.outbox.submit(message).result(5)

    def run(self, rounds: int = 40) -> None:
        """Send and settle until nothing is queued or sent (or `rounds` run out)."""
        for _ in range(rounds):
            self.relayer.step(max_batches=8)
            settle(self.relayer)
            counts = self.outbox.counts()
            if not counts.get("queued") and not counts.get("sent"):
                return


def make_relay(
    w3: Web3,
    system: Deployment,
    artifacts: dict[str, Artifact],
    relayer_key: LocalAccount,
    path: Path,
    settings: Settings,
    *,
    refund_receiver: str | None = None,
) -> Relay:
    decoder = ErrorDecoder(a.abi for a in artifacts.values())
    outbox = Outbox(path, settings)
    forward = ForwardRelay(
        w3,
        system.forwarder,
        [c.address for k, c in system.contracts.items() if k != "forwarder"],
        decoder,
        relayer_key.address if refund_receiver is None else refund_receiver,
        settings,
        lambda signer: outbox.in_flight("forward", signer),
    )
    forward.pending = lambda: outbox.pending("forward")
    ballots = BallotRelay(w3, system.council, system.registry, settings)
    relayer = Relayer(
        w3, relayer_key, outbox, [ballots, forward], stepped(settings), decoder=decoder
    )
    return Relay(outbox, forward, ballots, relayer)


@pytest.fixture
def relay(
    w3: Web3,
    system: Deployment,
    artifacts: dict[str, Artifact],
    accounts: list[LocalAccount],
    tmp_path: Path,
    settings: Settings,
) -> Relay:
    r = make_relay(w3, system, artifacts, accounts[9], tmp_path / "relay.sqlite", settings)
    yield r
    r.outbox.close()


def outsider_registrar(w3: Web3, system: Deployment) -> tuple[LocalAccount, int]:
    """A stranger with no role anywhere creates a community of its own and makes itself its
    registrar: anyone can."""
    outsider = Account.create()
    rpc(w3, "anvil_setBalance", [outsider.address, hex(10**20)])
    send(w3, outsider, system.registry.functions.createCommunity(b"\x99" * 32))
    community: int = system.registry.functions.communityCount().call()
    send(w3, outsider, system.registry.functions.grantRole(community, REGISTRAR, outsider.address))
    return outsider, community


def signed(w3: Web3, system: Deployment, signer: LocalAccount, call, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    return sign_forward_request(w3, system.forwarder, signer, call, **kwargs).to_payload()


def ballot_payload(relay: Relay, proposal: int, voter: LocalAccount, option: int) -> dict:
    domain = relay.ballots.domain
    sig = sign_ballot(voter, make_ballot(proposal, voter.address, option), domain).signature
    return {
        "proposalId": proposal,
        "voter": voter.address,
        "option": option,
        "signature": "0x" + sig.hex(),
    }


def test_roll_chunks_sent_without_waiting_do_not_jam_the_relay(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], relay: Relay
) -> None:
    """The attack as seen: four ~9.2M-gas roll updates acknowledged within milliseconds used to
    go into one executeBatch that could neither be estimated nor mined, and every message
    acknowledged after them stayed queued for ever."""
    proposal, residents = open_election(w3, system, accounts, voters=3, tag=7)
    outsider, community = outsider_registrar(w3, system)
    nonce = system.forwarder.functions.nonces(outsider.address).call()
    chunks = [[Account.create().address for _ in range(ROLL_CHUNK)] for _ in range(4)]
    roll = [
        relay.accept(
            relay.forward,
            signed(
                w3,
                system,
                outsider,
                system.registry.functions.updateRoll(community, chunk, [], i == 3),
                gas=10_000_000,
                nonce=nonce + i,
            ),
        )
        for i, chunk in enumerate(chunks)
    ]
    votes = [relay.accept(relay.ballots, ballot_payload(relay, proposal, r, 1)) for r in residents]

    relay.run()

    for receipt in roll + votes:
        assert relay.outbox.get(receipt.id).status == "counted", relay.outbox.get(receipt.id)
    assert system.registry.functions.rollSnapshot(community).call()[1] == 4 * ROLL_CHUNK
    assert system.council.functions.tallyOf(proposal).call()[1] == 3
    # Each batch fitted a transaction: no transaction above the cap.
    hashes = {relay.outbox.get(r.id).tx_hash for r in roll}
    assert len(hashes) == 4
    for tx_hash in hashes:
        assert w3.eth.get_transaction(tx_hash)["gas"] <= TX_GAS_CAP


def test_forward_request_gas_and_deadline_are_capped(
    w3: Web3, system: Deployment, relay: Relay
) -> None:
    outsider, community = outsider_registrar(w3, system)
    call = system.registry.functions.updateRoll(community, [Account.create().address], [], True)
    with pytest.raises(InvalidMessage) as too_much:
        relay.forward.parse(signed(w3, system, outsider, call, gas=10_000_001))
    assert too_much.value.code == "GasOutOfRange"
    with pytest.raises(InvalidMessage) as none:
        relay.forward.parse(signed(w3, system, outsider, call, gas=0))
    assert none.value.code == "GasOutOfRange"
    far = signed(w3, system, outsider, call, ttl_s=86_400 + 600)
    with pytest.raises(InvalidMessage) as too_far:
        relay.forward.check(relay.forward.parse(far))
    assert too_far.value.code == "DeadlineTooFar"
    near = relay.forward.parse(signed(w3, system, outsider, call, ttl_s=86_400 - 600))
    relay.forward.check(near)  # within the cap: accepted


def test_forward_deadlines_are_judged_by_the_chains_clock_when_it_runs_ahead(
    w3: Web3, system: Deployment, relay: Relay
) -> None:
    """The forwarder judges a deadline by block.timestamp: so does the relay, even when the
    chain's clock was moved two days past the wall clock since the relay last read it."""
    outsider, community = outsider_registrar(w3, system)
    call = system.registry.functions.updateRoll(community, [Account.create().address], [], True)
    relay.forward.check(relay.forward.parse(signed(w3, system, outsider, call)))  # clock read
    ahead = int(time.time()) + 2 * 86_400
    rpc(w3, "evm_mine", [ahead])
    # Too far by the clock's last reading: confirmed against the chain, and accepted.
    by_chain = relay.forward.parse(signed(w3, system, outsider, call, deadline=ahead + 3600))
    relay.forward.check(by_chain)
    # An hour ahead of the wall clock is two days behind the chain's: the forwarder would skip it.
    by_wall = relay.forward.parse(signed(w3, system, outsider, call, ttl_s=3600))
    with pytest.raises(InvalidMessage) as stale:
        relay.forward.check(by_wall)
    assert stale.value.code == "ExpiredRequest"


def test_every_forward_request_is_simulated_after_those_ahead_of_it(
    w3: Web3, system: Deployment, relay: Relay
) -> None:
    """A signer's second request used to be acknowledged unchecked. Now it is run after the
    first (so one that depends on it passes, one that conflicts with it is refused)."""
    outsider, community = outsider_registrar(w3, system)
    member = Account.create().address
    nonce = system.forwarder.functions.nonces(outsider.address).call()
    add = system.registry.functions.updateRoll(community, [member], [], True)
    remove = system.registry.functions.updateRoll(community, [], [member], True)
    relay.accept(relay.forward, signed(w3, system, outsider, add, nonce=nonce))
    # Depends on the first (the member is on the roll only once it has run): acknowledged.
    relay.accept(relay.forward, signed(w3, system, outsider, remove, nonce=nonce + 1))
    # Conflicts with the two ahead of it (the member is gone again): refused with the rule.
    with pytest.raises(InvalidMessage) as refused:
        again = relay.forward.parse(signed(w3, system, outsider, remove, nonce=nonce + 2))
        relay.forward.check(again)
    assert refused.value.code not in ("CallReverted", "InvalidNonce"), refused.value
    relay.run()
    assert relay.outbox.counts() == {"counted": 2}


def test_a_batch_that_fails_as_a_whole_is_split_and_only_the_offender_refused(
    w3: Web3,
    system: Deployment,
    artifacts: dict[str, Artifact],
    accounts: list[LocalAccount],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
) -> None:
    """With no refund receiver, OpenZeppelin's executeBatch is all-or-nothing: one request
    gone stale (its deadline passed after acknowledgement) makes the whole batch revert. The
    relay must still land the others and name the stale one's reason."""
    relay = make_relay(
        w3, system, artifacts, accounts[9], tmp_path / "atomic.sqlite", settings,
        refund_receiver="0x" + "00" * 20,
    )  # fmt: skip
    try:
        signers = [Account.create() for _ in range(6)]
        # Each signer asks for a community of its own to be created: always valid.
        receipts = []
        # The newest block may be minutes old (reverted snapshots); the relay judges by the clock.
        now = max(w3.eth.get_block("latest")["timestamp"], int(time.time()))
        for i, s in enumerate(signers):
            call = system.registry.functions.createCommunity(bytes([i + 1]) * 32)
            ttl = 120 if i == 3 else 3600
            receipts.append(
                relay.accept(relay.forward, signed(w3, system, s, call, deadline=now + ttl))
            )
        # Time passes: the fourth request's deadline is behind it. The block is stamped
        # explicitly, since after a snapshot revert the chain's clock lags the wall clock.
        rpc(w3, "evm_mine", [now + 600])
        with caplog.at_level(logging.WARNING, logger="ledger.relay"):
            relay.run()
        statuses = [relay.outbox.get(r.id) for r in receipts]
        assert [s.status for s in statuses] == ["counted"] * 3 + ["rejected"] + ["counted"] * 2
        assert "ERC2771ForwarderExpiredRequest" in (statuses[3].detail or "")
        # Found by simulation: nothing that reverted was ever mined.
        for s in statuses:
            if s.tx_hash:
                assert w3.eth.get_transaction_receipt(s.tx_hash)["status"] == 1
        # One line per failure, never a traceback.
        assert caplog.records and all(r.exc_info is None for r in caplog.records)
    finally:
        relay.outbox.close()


def test_a_batch_reverted_on_chain_is_requeued_and_split_not_rejected_whole(
    w3: Web3,
    system: Deployment,
    artifacts: dict[str, Artifact],
    accounts: list[LocalAccount],
    tmp_path: Path,
    settings: Settings,
) -> None:
    relay = make_relay(
        w3, system, artifacts, accounts[9], tmp_path / "atomic.sqlite", settings,
        refund_receiver="0x" + "00" * 20,
    )  # fmt: skip
    try:
        signers = [Account.create() for _ in range(4)]
        # The newest block may be minutes old (reverted snapshots); the relay judges by the clock.
        now = max(w3.eth.get_block("latest")["timestamp"], int(time.time()))
        receipts = [
            relay.accept(
                relay.forward,
                signed(
                    w3,
                    system,
                    s,
                    system.registry.functions.createCommunity(b"\x05" * 32),
                    deadline=now + (120 if i == 1 else 3600),
                ),
            )
            for i, s in enumerate(signers)
        ]
        rpc(w3, "evm_mine", [now + 600])  # stamped: the chain's clock may lag the wall's
        # The first batch is sent unsimulated, with gas enough for all four, and reverts.
        kind = relay.forward
        relay.relayer.kinds["forward"] = _Unsimulated(kind)  # type: ignore[assignment]
        first = relay.relayer.send_one_batch()
        relay.relayer.kinds["forward"] = kind
        assert first
        settle(relay.relayer)
        assert w3.eth.get_transaction_receipt(first)["status"] == 0
        assert relay.outbox.counts() == {"queued": 4}
        relay.run()
        statuses = [relay.outbox.get(r.id).status for r in receipts]
        assert statuses == ["counted", "rejected", "counted", "counted"]
        # The revert cost one transaction: every later one was simulated first and succeeded.
        mined = {relay.outbox.get(r.id).tx_hash for r in receipts} - {None}
        assert all(w3.eth.get_transaction_receipt(h)["status"] == 1 for h in mined)
    finally:
        relay.outbox.close()


class _Unsimulated:
    """The forward kind, but vouching for its batch's gas (so the relayer skips simulation)."""

    def __init__(self, kind: ForwardRelay) -> None:
        self._kind = kind

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._kind, name)

    def batch_call(self, group: str, payloads):  # type: ignore[no-untyped-def]
        call = self._kind.batch_call(group, payloads)
        bound = self._kind.base_gas + sum(self._kind.gas_bound(p) for p in payloads)
        return type(call)(call.to, call.data, bound)


def test_a_lone_message_that_keeps_failing_is_parked_and_others_go_on(
    w3: Web3, system: Deployment, accounts: list[LocalAccount], relay: Relay, monkeypatch
) -> None:
    """A failure the contract does not name (the node errs on this batch alone) is retried a
    few times, then parked with its reason; the other groups are not held up meanwhile."""
    no_pause = relay.relayer.settings.model_copy(update={"relay_retry_base_s": 0.0})
    monkeypatch.setattr(relay.relayer, "settings", no_pause)
    proposal, residents = open_election(w3, system, accounts, voters=2, tag=9)
    outsider, community = outsider_registrar(w3, system)
    poison = relay.accept(
        relay.forward,
        signed(w3, system, outsider,
               system.registry.functions.updateRoll(community, [residents[0].address], [], True)),
    )  # fmt: skip
    vote = relay.accept(relay.ballots, ballot_payload(relay, proposal, residents[0], 0))
    real_estimate = w3.eth.estimate_gas

    def estimate(tx, *args):  # type: ignore[no-untyped-def]
        if tx["to"] == system.forwarder.address:
            from web3.exceptions import Web3RPCError

            raise Web3RPCError("{'code': -32603, 'message': 'EVM error InvalidFEOpcode'}")
        return real_estimate(tx, *args)

    monkeypatch.setattr(w3.eth, "estimate_gas", estimate)
    relay.run(rounds=20)
    assert relay.outbox.get(vote.id).status == "counted"
    parked = relay.outbox.get(poison.id)
    assert parked.status == "rejected"
    assert parked.detail is not None and parked.detail.startswith("parked after 5 failed attempts")
    assert "InvalidFEOpcode" in parked.detail


def test_the_digest_an_acknowledgement_names_is_the_one_the_sender_signed(
    w3: Web3, system: Deployment, relay: Relay
) -> None:
    outsider, community = outsider_registrar(w3, system)
    call = system.registry.functions.updateRoll(community, [Account.create().address], [], True)
    message = relay.forward.parse(signed(w3, system, outsider, call))
    signature = bytes.fromhex(message.payload["signature"][2:])
    assert (
        checksum_address(recover_address_bytes(relay.forward.signed_digest(message), signature))
        == outsider.address
    )


def test_a_request_simulated_while_the_one_before_is_pending_still_gets_its_gas(
    w3: Web3, system: Deployment, relay: Relay
) -> None:
    """Simulated while its signer's previous request was still pending, a request looks stale
    (its nonce not yet due) and cheap; once mined after that one it needs all its gas. Sent
    with the simulation's figure it ran out and took the whole batch down with it."""
    outsider, community = outsider_registrar(w3, system)
    nonce = system.forwarder.functions.nonces(outsider.address).call()
    receipts = [
        relay.accept(
            relay.forward,
            signed(
                w3, system, outsider,
                system.registry.functions.updateRoll(
                    community, [Account.create().address for _ in range(ROLL_CHUNK)], [], True
                ),
                gas=10_000_000, nonce=nonce + i,
            ),
        )
        for i in range(2)
    ]  # fmt: skip
    rpc(w3, "evm_setAutomine", [False])
    try:
        assert relay.relayer.send_one_batch()
        assert relay.relayer.send_one_batch()  # simulated with the first still pending
        rpc(w3, "evm_mine")
    finally:
        rpc(w3, "evm_setAutomine", [True])
    relay.run()
    assert [relay.outbox.get(r.id).status for r in receipts] == ["counted", "counted"]
    assert system.registry.functions.rollSnapshot(community).call()[1] == 2 * ROLL_CHUNK
