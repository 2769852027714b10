"""The relay's signed acknowledgements against the chain: `commons audit --acks` names each
acknowledged message not on the chain by the block promised; `GET /v1/relay/acks` exports them."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from commons.cli import app
from ledger.audit.acks import AckCheck, AckEntry, check_acks, entries_from_report, load_acks
from ledger.audit.auditor import _addresses
from ledger.node import rpc
from ledger.signing.acks import Acknowledgement, AckSigner
from ledger.signing.ballots import make_ballot, sign_ballot
from ledger.signing.cosignatures import CoSignatureDomain, sign_cosignature
from ledger.signing.ratings import RatingDomain, sign_rating
from ledger.transport import RpcClient
from ledger.tx import send
from tests.audit.conftest import History, cli_env, findings_of

runner = CliRunner()


def relayer_of(history: History) -> str:
    return str(Account.from_key(history.live.env["COMMONS_RELAYER_KEY"]).address)


def export(history: History, **params: Any) -> dict[str, Any]:
    answer = httpx.get(f"{history.live.url}/v1/relay/acks", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


def all_acks(history: History, limit: int = 1000) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        page = export(history, limit=limit, after=after)
        items += page["items"]
        if page["nextAfter"] is None:
            return items
        after = page["nextAfter"]


def judge(history: History, entries: list[AckEntry], relayer: str | None = None) -> AckCheck:
    record = history.record
    with RpcClient(history.live.node.url) as client:
        return check_acks(
            client,
            history.w3.eth.chain_id,
            _addresses(record),
            int(record["block"]),
            history.w3.eth.block_number,
            entries,
            relayer,
        )


def entry_of(item: dict[str, Any]) -> AckEntry:
    return AckEntry(
        Acknowledgement.from_json(item["ack"]), item["id"], item["kind"], item.get("payload")
    )


# ------------------------------------------------------------------------------- export


def test_export_pages_through_every_acknowledgement_once_in_order(history: History) -> None:
    everything = export(history, limit=1000)
    assert everything["nextAfter"] is None
    items = everything["items"]
    kinds = {i["kind"] for i in items}
    assert len(items) > 10 and kinds == {
        "ballot",
        "service",
        "forward",
        "cosignature",
        "rating",
        "election-ballot",
        "budget-ballot",
        "in-person-ballot",
        "mandate",
        "election-proxy-ballot",
        "box-totals",
    }
    paged = all_acks(history, limit=3)
    assert [i["id"] for i in paged] == [i["id"] for i in items]
    assert [i["position"] for i in paged] == sorted({i["position"] for i in paged})
    assert history.ballot_receipt["id"] in {i["id"] for i in items}
    assert export(history, since=time.time() + 3600)["items"] == []
    first = export(history, limit=2)
    assert len(first["items"]) == 2 and first["nextAfter"] == first["items"][1]["position"]
    bad = httpx.get(f"{history.live.url}/v1/relay/acks", params={"limit": 0}, timeout=10)
    assert bad.status_code == 422 and bad.json()["code"]


def test_every_exported_acknowledgement_landed_by_its_promise(history: History) -> None:
    result = judge(history, [entry_of(i) for i in all_acks(history)], relayer_of(history))
    assert result.findings == [] and result.warnings == []
    verdicts = {e["verdict"] for e in result.entries}
    assert verdicts == {"landed"}, [e for e in result.entries if e["verdict"] != "landed"]
    assert result.summary()["relayers"] == [relayer_of(history)]


def test_a_report_carries_its_acknowledgements_whole_to_be_checked_again(
    history: History,
) -> None:
    given = [entry_of(i) for i in all_acks(history, limit=5)[:5]]
    result = judge(history, given)
    again = entries_from_report({"relay_acks": {**result.summary(), "entries": result.entries}})
    assert again == given
    assert entries_from_report({}) is None


def test_a_kept_ballot_receipt_that_landed_is_no_finding(history: History) -> None:
    result = judge(history, [entry_of({**history.ballot_receipt, "payload": None})])
    assert result.findings == [] and [e["verdict"] for e in result.entries] == ["landed"]


def relayer_signer(history: History) -> AckSigner:
    forwarder = history.record["contracts"]["forwarder"]["address"]
    key = bytes.fromhex(history.live.env["COMMONS_RELAYER_KEY"].removeprefix("0x"))
    return AckSigner(key, history.w3.eth.chain_id, forwarder)


def test_a_ballot_landed_after_the_block_promised_is_named_late(history: History) -> None:
    receipt = history.ballot_receipt
    digest = bytes.fromhex(receipt["detail"].removeprefix("0x"))
    promised = relayer_signer(history).sign(digest, int(time.time()), receipt["block"] - 1)
    result = judge(history, [AckEntry(promised, receipt["id"], "ballot", None)])
    late = findings_of(result, "relay.late")  # type: ignore[arg-type]
    assert len(late) == 1 and late[0].block == receipt["block"]
    assert late[0].tx == receipt["txHash"] and findings_of(result, "relay.censored") == []  # type: ignore[arg-type]


def test_a_ballot_sent_and_skipped_by_the_contract_kept_the_promise(
    history: History, accounts: list[LocalAccount]
) -> None:
    voter = history.keys["resident1"]  # voted on the garden in the seeded history
    garden = history.made["proposals"]["garden"]
    council = history.live.client.contracts["council"]
    again = sign_ballot(
        voter, make_ballot(garden, voter.address, 2), history.live.client.ballot_domain
    )
    send(history.w3, accounts[0], council.functions.castBallots(garden, [again.call_arg()]))
    promised = relayer_signer(history).sign(
        again.digest, int(time.time()), history.w3.eth.block_number
    )
    payload = {"proposalId": garden, "voter": voter.address, "option": 2, "signature": "0x"}
    result = judge(history, [AckEntry(promised, None, "ballot", payload)], relayer_of(history))
    assert result.findings == []
    assert [(e["verdict"], e.get("outcome")) for e in result.entries] == [("landed", "skipped")]


def test_a_cosignature_sent_and_skipped_by_the_contract_kept_the_promise(
    history: History, accounts: list[LocalAccount]
) -> None:
    promoted = history.made["initiatives"]["lights"]  # promoted in the seeded demo
    late = history.keys["resident8"]
    initiatives = history.live.client.contracts["initiatives"]
    domain = CoSignatureDomain(history.w3.eth.chain_id, initiatives.address)
    signed = sign_cosignature(late, promoted, domain)
    send(history.w3, accounts[0], initiatives.functions.coSign(promoted, [signed.call_arg()]))
    promised = relayer_signer(history).sign(
        signed.digest, int(time.time()), history.w3.eth.block_number
    )
    payload = {"initiativeId": promoted, "signer": late.address, "signature": "0x"}
    entry = AckEntry(promised, None, "cosignature", payload)
    result = judge(history, [entry], relayer_of(history))
    assert result.findings == []
    assert [(e["verdict"], e.get("outcome")) for e in result.entries] == [("landed", "skipped")]


def test_a_rating_sent_and_skipped_by_the_contract_kept_the_promise(
    history: History, accounts: list[LocalAccount]
) -> None:
    playground = history.made["proposals"]["playground"]
    rater = history.keys["resident4"]  # rated it in the seeded demo
    ratings = history.live.client.contracts["ratings"]
    domain = RatingDomain(history.w3.eth.chain_id, ratings.address)
    signed = sign_rating(rater, playground, 1, bytes(32), domain)
    send(history.w3, accounts[0], ratings.functions.rate(playground, [signed.call_arg()]))
    promised = relayer_signer(history).sign(
        signed.digest, int(time.time()), history.w3.eth.block_number
    )
    payload = {
        "proposalId": playground,
        "rater": rater.address,
        "score": 1,
        "commentHash": "0x" + bytes(32).hex(),
        "signature": "0x",
    }
    result = judge(history, [AckEntry(promised, None, "rating", payload)], relayer_of(history))
    assert result.findings == []
    assert [(e["verdict"], e.get("outcome")) for e in result.entries] == [("landed", "skipped")]


# -------------------------------------------------------------------------------- forgery


def test_an_acknowledgement_signed_by_another_key_is_refused(history: History) -> None:
    deployment = history.record["contracts"]
    forger = AckSigner(
        Account.create().key, history.w3.eth.chain_id, deployment["forwarder"]["address"]
    )
    head = history.w3.eth.block_number
    invented = forger.sign(b"\x42" * 32, int(time.time()), head - 1)
    entries = [AckEntry(invented, None, "ballot", None)]
    named = judge(history, entries, relayer_of(history))
    assert named.findings == []
    assert [e["verdict"] for e in named.entries] == ["refused"]
    assert forger.address in named.entries[0]["reason"] and named.warnings
    # Not naming the relayer: the ack is judged, and the finding names who signed it.
    anyone = judge(history, entries)
    censored = findings_of(anyone, "relay.censored")  # type: ignore[arg-type]
    assert len(censored) == 1 and forger.address in censored[0].detail
    # A signature by another key under the real relayer's name is refused either way.
    posing = Acknowledgement(invented.message, invented.accepted_at, invented.land_by,
                             relayer_of(history), invented.signature)  # fmt: skip
    posed = judge(history, [AckEntry(posing, None, "ballot", None)])
    assert posed.findings == [] and posed.entries[0]["verdict"] == "refused"


# -------------------------------------------------------------------------- censorship


def test_a_ballot_dropped_from_the_outbox_is_named_censored_by_the_audit(
    history: History, tmp_path: Path
) -> None:
    live = history.live
    garden = history.made["proposals"]["garden"]
    live.stop_api()
    live.start_api(relay_interval_s="3600", relay_land_within_blocks="5")
    try:
        dropped = live.client.ballot(history.keys["resident7"], garden, 0)
        assert dropped["status"] == "queued" and dropped["ack"]["relayer"] == relayer_of(history)
    finally:
        live.stop_api(kill=True)
    with sqlite3.connect(Path(live.env["COMMONS_DATA_DIR"]) / "relay.sqlite") as db:
        assert db.execute("DELETE FROM messages WHERE id = ?", (dropped["id"],)).rowcount == 1
    live.start_api()
    land_by = dropped["ack"]["landBy"]
    pending = judge(history, [entry_of({**dropped, "payload": None})])
    if history.w3.eth.block_number <= land_by:
        assert pending.findings == [] and pending.entries[0]["verdict"] == "pending"
    rpc(history.w3, "anvil_mine", [hex(land_by - history.w3.eth.block_number + 1)])

    saved = tmp_path / "acks.jsonl"
    lines = [*all_acks(history), {**dropped, "payload": None}]
    saved.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert len(load_acks(saved)) == len(lines)
    result = runner.invoke(app, ["audit", "--acks", str(saved), "--relayer", relayer_of(history),
                                 "--out", str(tmp_path / "report"), "--fresh", "--quiet"],
                           env=cli_env(history), catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 1, result.output
    named = [line for line in result.output.splitlines() if "[relay.censored]" in line]
    assert len(named) == 1 and dropped["ack"]["message"] in named[0]
    assert f"promised by block {land_by}" in named[0] and dropped["id"] in named[0]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    body = report.get("report", report)
    assert (
        body["relay_acks"]["censored"] == 1 and "relay.censored" in body["summary"]["rules_broken"]
    )
