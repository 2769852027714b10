"""`commons verify-receipt`: a resident checks, against any node, that their ballot is on-chain,
with their signature, for their choice, and counted in the published tally.

The receipt is what the API returned when they voted (tx hash, their address as `signer`, and the
ballot's EIP-712 digest in `detail` once counted); fields may also be given one by one. Nothing
else is trusted: the digest is recomputed from the council's domain, the signature is taken from
the transaction's own calldata and recovered here, and the tally is recounted from the events.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from eth_abi.abi import decode as abi_decode

from ledger.audit.abi import event_of, log_values
from ledger.audit.chain import forward_request_signer, forward_requests
from ledger.audit.ethcodec import hex_bytes, hex_int, recover_compact, to_hex, tx_sender
from ledger.audit.sigs import BALLOT_BYTES, parse_batch
from ledger.errors import AuditInfraError, LedgerError
from ledger.protocol.generated import Domains, Events, Functions, ProposalView
from ledger.signing.digests import ballot_digest, domain_separator
from ledger.transport import RpcClient

CAST: Final = event_of(Events.BallotCast)
EXECUTED: Final = event_of(Events.ExecutedForwardRequest)
# ICouncil.ProposalView, as getProposal returns it
PROPOSAL_VIEW: Final = (
    "(uint256,address,bytes32,uint8,uint8,uint64,uint64,uint16,uint16,uint128,bytes3,uint32,"
    "uint32,uint8,uint8,uint8,uint256[],uint8,uint256)"
)


class ReceiptInputError(LedgerError):
    """The receipt given cannot be read."""


@dataclass
class ReceiptInput:
    # None for a receipt saved before its ballot landed (the page's file): the transaction is
    # then the one whose BallotCast carries the receipt's digest.
    tx_hash: str | None
    voter: str | None = None
    digest: str | None = None
    proposal: int | None = None
    option: int | None = None
    block: int | None = None


def parse_receipt(text: str) -> ReceiptInput:
    """A receipt as the API's JSON or the page's saved receipt file (inline or a file path),
    or `key=value` fields separated by commas or spaces: tx=0x.., voter=0x.., digest=0x..,
    proposal=N, option=N. A digest alone (with its voter) names the ballot too."""
    raw: dict[str, Any]
    candidate = text.strip()
    path = Path(candidate)
    if not candidate.startswith("{") and len(candidate) < 4096 and path.is_file():
        candidate = path.read_text().strip()
    if candidate.startswith("{"):
        try:
            raw = json.loads(candidate)
        except ValueError as exc:
            raise ReceiptInputError(f"the receipt is not valid JSON: {exc}") from exc
    else:
        raw = {}
        for part in candidate.replace(",", " ").split():
            if "=" not in part:
                raise ReceiptInputError(f"expected key=value, got {part!r}")
            k, v = part.split("=", 1)
            raw[k.strip()] = v.strip()
    tx = raw.get("txHash") or raw.get("tx_hash") or raw.get("tx")
    digest = raw.get("digest") or raw.get("detail")
    if not tx and not digest:
        raise ReceiptInputError(
            "the receipt has neither a tx_hash nor the ballot's digest (is it a ballot's?)"
        )
    if raw.get("kind") not in (None, "ballot"):
        raise ReceiptInputError(f"this is a {raw.get('kind')} receipt, not a ballot's")

    def number(key: str) -> int | None:
        value = raw.get(key)
        return None if value in (None, "") else int(str(value), 0)

    return ReceiptInput(
        tx_hash=str(tx) if tx else None,
        voter=raw.get("voter") or raw.get("signer"),
        digest=digest,
        proposal=number("proposal") if "proposal" in raw else number("proposalId"),
        option=number("option"),
        block=number("block"),
    )


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ReceiptVerdict:
    checks: list[Check] = field(default_factory=list)
    proposal: int | None = None
    option: int | None = None
    council: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def verify_ballot_receipt(
    rpc: RpcClient, receipt: ReceiptInput, *, council: str | None = None
) -> ReceiptVerdict:
    verdict = ReceiptVerdict()
    if receipt.tx_hash is None:
        assert receipt.digest is not None  # parse_receipt requires one or the other
        found = _follow_digest(rpc, receipt.digest, receipt.voter, council)
        if not verdict.add(
            "found",
            found is not None,
            f"ballot {receipt.digest} is in transaction {found}"
            if found
            else f"no transaction on this chain carries ballot {receipt.digest}",
        ):
            return verdict
        receipt = dataclasses.replace(receipt, tx_hash=found)
    tx = rpc.call("eth_getTransactionByHash", [receipt.tx_hash])
    mined = rpc.call("eth_getTransactionReceipt", [receipt.tx_hash]) if tx else None
    if receipt.digest and not _carries(mined, receipt.digest):
        # A reorg took the batch off the chain and the relay sent the ballot again, in another
        # transaction or block: the ballot is named by its digest, the transaction is not.
        moved = _follow_digest(rpc, receipt.digest, receipt.voter, council)
        if moved is not None and moved != str(receipt.tx_hash).lower():
            verdict.add(
                "followed",
                True,
                f"the receipt's transaction {receipt.tx_hash} "
                f"{'failed' if mined else 'is not on the chain'} (a reorg?): ballot "
                f"{receipt.digest} is in transaction {moved}",
            )
            receipt = dataclasses.replace(receipt, tx_hash=moved, block=None)
            tx = rpc.call("eth_getTransactionByHash", [moved])
            mined = rpc.call("eth_getTransactionReceipt", [moved]) if tx else None
    if not verdict.add(
        "on-chain",
        tx is not None and mined is not None and hex_int(mined["status"]) == 1,
        f"transaction {receipt.tx_hash} "
        + ("mined in block " + str(hex_int(mined["blockNumber"])) if mined else "not found"),
    ):
        return verdict
    assert tx is not None and mined is not None
    if receipt.block is not None and receipt.block != hex_int(mined["blockNumber"]):
        # Only the chain says where a transaction is: a reorg re-mines a batch in a later block.
        verdict.add(
            "block",
            True,
            f"receipt says block {receipt.block}, the chain has it in block "
            f"{hex_int(mined['blockNumber'])} (re-mined after a reorg)",
        )
    computed_hash, sender = tx_sender(tx)
    verdict.add(
        "transaction intact",
        computed_hash == hex_bytes(tx["hash"]) and sender == hex_bytes(tx["from"]),
        "its fields hash to its hash and its signature recovers to its sender",
    )
    chain_id = hex_int(rpc.call("eth_chainId"))
    target = council
    if target is None:
        # Not pinned: the contract the resident's ballot went to, as the transaction shows it.
        selector = hex_bytes(tx.get("input"))[:4]
        if selector in (Functions.castBallots.selector, Functions.castVote.selector):
            target = tx.get("to")
        else:
            emitters = {
                log["address"].lower() for log in mined["logs"] if log_values(CAST, log) is not None
            }
            target = emitters.pop() if len(emitters) == 1 else tx.get("to")
        verdict.add(
            "council",
            True,
            f"{target} (taken from the transaction: pass --council "
            "to pin the address published by your community)",
        )
    calls = _council_calls(tx, mined, target, chain_id)
    council_address = hex_bytes(target)
    verdict.council = to_hex(council_address)
    casts = [
        _ballot(cast)
        for log in mined["logs"]
        if hex_bytes(log["address"]) == council_address
        and (cast := log_values(CAST, log)) is not None
    ]
    voter = hex_bytes(receipt.voter) if receipt.voter else None
    mine = [
        (proposal, voter_, option, digest)
        for proposal, voter_, option, digest in casts
        if (voter is None or voter_ == voter)
        and (receipt.digest is None or digest == hex_bytes(receipt.digest))
        and (receipt.proposal is None or proposal == receipt.proposal)
    ]
    if not verdict.add(
        "ballot counted in its transaction",
        len(mine) == 1,
        f"{len(mine)} matching BallotCast events in the transaction",
    ):
        return verdict
    proposal, voter, option, cast_digest = mine[0]
    verdict.proposal, verdict.option = proposal, option
    domain = domain_separator(*Domains.Council, chain_id, council_address)
    digest = ballot_digest(domain, proposal, voter, option)
    verdict.add(
        "digest",
        cast_digest == digest and (receipt.digest is None or hex_bytes(receipt.digest) == digest),
        f"EIP-712 digest {to_hex(digest)} recomputed from (proposal {proposal}, "
        f"voter {to_hex(voter)}, option {option}) under the council's domain",
    )
    if receipt.option is not None:
        verdict.add("my choice", receipt.option == option, f"counted for option {option}")
    signed = _signature_in_calls(calls, proposal, voter, option, digest)
    verdict.add("my signature", signed[0], signed[1])
    _published_tally(
        rpc, verdict, council_address, proposal, option, voter, hex_int(mined["blockNumber"])
    )
    return verdict


def _ballot(cast: dict[str, Any]) -> tuple[int, bytes, int, bytes]:
    """(proposal, voter, option, digest) of a BallotCast."""
    return (
        int(cast["proposalId"]),
        hex_bytes(cast["voter"]),
        int(cast["option"]),
        bytes(cast["digest"]),
    )


def _carries(mined: dict[str, Any] | None, digest: str) -> bool:
    """Whether a mined, successful transaction emitted a BallotCast carrying `digest`."""
    if mined is None or hex_int(mined["status"]) != 1:
        return False
    casts = (log_values(CAST, log) for log in mined["logs"])
    return any(cast is not None and cast["digest"] == hex_bytes(digest) for cast in casts)


def _follow_digest(
    rpc: RpcClient, digest: str, voter: str | None, council: str | None
) -> str | None:
    """The one transaction whose BallotCast (of `voter`, when known) carries `digest`."""
    topics: list[str | None] = [to_hex(CAST.topic)]
    if voter is not None:
        topics += [None, to_hex(hex_bytes(voter).rjust(32, b"\0"))]
    query: dict[str, Any] = {"fromBlock": "0x0", "toBlock": "latest", "topics": topics}
    if council is not None:
        query["address"] = council
    found = {
        str(log["transactionHash"]).lower()
        for log in rpc.call("eth_getLogs", [query]) or []
        if not log.get("removed") and hex_bytes(log["data"])[32:64] == hex_bytes(digest)
    }
    return found.pop() if len(found) == 1 else None


def _council_calls(
    tx: dict[str, Any], mined: dict[str, Any], council: str | None, chain_id: int
) -> list[tuple[bytes, bytes]]:
    """(calldata, actor) of the calls the transaction made to the council (directly or through
    the forwarder, whose executed requests carry their signer)."""
    data = hex_bytes(tx.get("input"))
    sender = tx_sender(tx)[1] or b""
    if council is not None and hex_bytes(tx.get("to")) == hex_bytes(council):
        return [(data, sender)]
    calls = []
    try:
        requests = forward_requests(data) or []
    except Exception:
        requests = []
    # Each executed request's event names its signer and nonce: recover the signature with it.
    executed = [
        (hex_bytes(done["signer"]), int(done["nonce"]))
        for log in mined["logs"]
        if (done := log_values(EXECUTED, log)) is not None
    ]
    domain = domain_separator(*Domains.CommonsForwarder, chain_id, hex_bytes(tx.get("to")))
    for request in requests:
        sender, to = hex_bytes(request.from_), hex_bytes(request.to)
        if council is not None and to != hex_bytes(council):
            continue
        for signer, nonce in executed:
            recovered = forward_request_signer(
                domain,
                sender,
                to,
                request.value,
                request.gas,
                nonce,
                request.deadline,
                bytes(request.data),
                bytes(request.signature),
            )
            if signer == sender and recovered == signer:
                calls.append((bytes(request.data), signer))
                break
    return calls


def _signature_in_calls(
    calls: list[tuple[bytes, bytes]], proposal: int, voter: bytes, option: int, digest: bytes
) -> tuple[bool, str]:
    for data, actor in calls:
        if data[:4] == Functions.castBallots.selector:
            parsed = parse_batch(data)
            if parsed is None or parsed[0] != proposal:
                continue
            raw = parsed[1]
            for i in range(0, len(raw), BALLOT_BYTES):
                record = raw[i : i + BALLOT_BYTES]
                if record[12:32] == voter and record[63] == option:
                    signer, low_s = recover_compact(digest, record[64:96], record[96:128])
                    if signer == voter and low_s:
                        return (
                            True,
                            "the relayed ballot in the calldata is signed by you (low-s EIP-712)",
                        )
                    return False, "the relayed ballot in the calldata is NOT validly signed by you"
        if data[:4] == Functions.castVote.selector and actor == voter:
            pid, opt = abi_decode(["uint256", "uint8"], data[4:])
            if pid == proposal and opt == option:
                return True, "a direct vote sent by you (or forwarded with your EIP-712 signature)"
    return False, "no ballot of yours in the transaction's calldata"


def _published_tally(
    rpc: RpcClient,
    verdict: ReceiptVerdict,
    council: bytes,
    proposal: int,
    option: int,
    voter: bytes,
    block: int,
) -> None:
    topic = to_hex(proposal.to_bytes(32, "big"))
    logs = rpc.call(
        "eth_getLogs",
        [
            {
                "address": to_hex(council),
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [to_hex(CAST.topic), topic],
            }
        ],
    )
    finalized_topic = to_hex(Events.ProposalFinalized.topic)
    finals = rpc.call(
        "eth_getLogs",
        [
            {
                "address": to_hex(council),
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [finalized_topic, topic],
            }
        ],
    )
    counts: dict[int, int] = {}
    mine = 0
    for cast in filter(None, (log_values(CAST, log) for log in logs)):
        counts[int(cast["option"])] = counts.get(int(cast["option"]), 0) + 1
        mine += hex_bytes(cast["voter"]) == voter
    verdict.add("counted once", mine == 1, f"{mine} ballots of yours on proposal {proposal}")
    result, error = rpc.try_call(
        "eth_call",
        [
            {
                "to": to_hex(council),
                "data": to_hex(Functions.getProposal.selector + proposal.to_bytes(32, "big")),
            },
            "latest",
        ],
    )
    if error or result is None:
        verdict.add("published tally", False, f"the council's getProposal failed: {error}")
        return
    view = ProposalView(*abi_decode([PROPOSAL_VIEW], hex_bytes(result))[0])
    tally = [int(t) for t in view.tally]
    recount = [counts.get(i, 0) for i in range(len(tally))]
    verdict.add(
        "published tally",
        tally == recount,
        f"on-chain tally {tally}; recounted from every BallotCast event {recount}",
    )
    if finals:
        topics = [hex_bytes(t) for t in finals[-1]["topics"]]
        final = event_of(Events.ProposalFinalized).decode(topics, hex_bytes(finals[-1]["data"]))
        verdict.add(
            "final result",
            [int(t) for t in final["tally"]] == recount,
            f"finalized with tally {list(final['tally'])}",
        )


def run(receipt_text: str, rpc_url: str, council: str | None = None) -> ReceiptVerdict:
    receipt = parse_receipt(receipt_text)
    with RpcClient(rpc_url) as rpc:
        try:
            return verify_ballot_receipt(rpc, receipt, council=council)
        except (KeyError, ValueError, TypeError) as exc:
            raise AuditInfraError(f"unexpected answer from the node: {exc}") from exc
