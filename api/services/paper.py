"""Paper boxes as the index records them (PaperBoxDeclared, BoxTotalsSigned, BoxTotalsCounted),
with each officer's signed totals read back from the signBoxTotals calldata that carried them,
so the second officer sees exactly what the first signed."""

from __future__ import annotations

from typing import Any

from api.schemas import BoxCountOut, BoxSignatureOut, PaperBoxOut
from api.services.container import Services
from ledger.hashing import checksum_address
from ledger.signing.box_totals import BoxTotals, totals_hash


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _label(services: Services, label_hash: str) -> str | None:
    return services.store.get_text(label_hash)


def counts(services: Services, election_id: int) -> list[BoxCountOut]:
    """The election's counted boxes and their ballots, in the order they counted."""
    counted = services.index.events(
        contract="poll_office",
        event="BoxTotalsCounted",
        where={"electionId": election_id},
        limit=None,
    )
    if not counted:
        return []
    labels = {
        int(e.args["boxId"]): _hex(e.args["labelHash"])
        for e in services.index.events(
            contract="poll_office",
            event="PaperBoxDeclared",
            where={"electionId": election_id},
            limit=None,
        )
    }
    return [
        BoxCountOut(
            box_id=int(e.args["boxId"]),
            label=_label(services, labels.get(int(e.args["boxId"]), "")),
            ballots=int(e.args["ballots"]),
        )
        for e in counted
    ]


def _signed_entries(services: Services, tx_hash: str, box_id: int) -> list[BoxSignatureOut]:
    """Every signed totals of `box_id` in the signBoxTotals call of `tx_hash`."""
    office = services.deployment.poll_office
    tx = services.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    try:
        fn, args = office.decode_function_input(tx["input"])
    except ValueError:
        return []  # not a direct call to the poll office: its events still say who signed
    if fn.fn_name != "signBoxTotals" or int(args["boxId"]) != box_id:
        return []
    out = []
    for entry in args["signed"]:
        choices, counts_ = entry["choices"], entry["counts"]
        certificate, officer = entry["certificateHash"], entry["officer"]
        totals = BoxTotals(
            box_id,
            tuple(choices),
            tuple(counts_),
            bytes(certificate),
            checksum_address(officer),
        )
        out.append(
            BoxSignatureOut(
                officer=totals.officer,
                totals_hash="0x" + totals_hash(totals).hex(),
                choices=[str(c) for c in choices],
                counts=list(counts_),
                certificate_hash="0x" + bytes(certificate).hex(),
            )
        )
    return out


def _signatures(services: Services, box_id: int) -> list[BoxSignatureOut]:
    signed = services.index.events(
        contract="poll_office", event="BoxTotalsSigned", where={"boxId": box_id}, limit=None
    )
    out: list[BoxSignatureOut] = []
    for tx_hash in dict.fromkeys(e.tx_hash for e in signed):
        recorded = {
            (checksum_address(str(e.args["officer"])), _hex(e.args["totalsHash"]))
            for e in signed
            if e.tx_hash == tx_hash
        }
        out += [
            s
            for s in _signed_entries(services, tx_hash, box_id)
            if (s.officer, s.totals_hash) in recorded
        ]
    return out


def boxes(services: Services, election_id: int) -> list[PaperBoxOut]:
    """The election's paper boxes, as declared, with their officers' totals and counts."""
    declared = services.index.events(
        contract="poll_office",
        event="PaperBoxDeclared",
        where={"electionId": election_id},
        limit=None,
    )
    counted = {
        int(e.args["boxId"]): e
        for e in services.index.events(
            contract="poll_office",
            event="BoxTotalsCounted",
            where={"electionId": election_id},
            limit=None,
        )
    }
    out = []
    for e in declared:
        box_id = int(e.args["boxId"])
        label_hash = _hex(e.args["labelHash"])
        done = counted.get(box_id)
        out.append(
            PaperBoxOut(
                box_id=box_id,
                election_id=election_id,
                label_hash=label_hash,
                label=_label(services, label_hash),
                voters=[checksum_address(str(v)) for v in e.args["voters"]],
                signatures=_signatures(services, box_id),
                ballots=None if done is None else int(done.args["ballots"]),
                totals_hash=None if done is None else _hex(done.args["totalsHash"]),
            )
        )
    return out
