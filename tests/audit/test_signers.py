"""Whose signature a report carries, judged against the Registry's `auditorKey` answers (a
stand-in Registry here; the live tests ask a real one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.audit.report import generate_key, load_key, raw_public_key, sign
from ledger.audit.signers import (
    AUDITOR_KEY_SELECTOR,
    AUDITOR_ROLE,
    HAS_ROLE_SELECTOR,
    document_fingerprint,
    fingerprint,
    judge,
)

REGISTRY = "0x" + "12" * 20
AUDITOR = "0x" + "ad" * 20


def _document(tmp_path: Path, to_block: int) -> tuple[dict[str, Any], bytes]:
    path = tmp_path / "k.pem"
    public = generate_key(path)
    report = {"chain": {"chain_id": 31337, "from_block": 0, "to_block": to_block}, "ok": True}
    return sign(report, load_key(path)), fingerprint(raw_public_key(public))


def _registry(
    fp: bytes, community: int, registered: int, revoked: int, role_until: int | None = None
) -> Any:
    """auditorKey answers for `fp`; AUDITOR held from `registered` until `role_until`."""

    def eth_call(to: str, data: bytes, block: int | None) -> bytes:
        assert to == REGISTRY
        if data[:4] == HAS_ROLE_SELECTOR:
            assert block is not None and data[4:36] == community.to_bytes(32, "big")
            assert data[36:68] == AUDITOR_ROLE and data[68:].hex().endswith(AUDITOR[2:])
            held = registered <= block and (role_until is None or block < role_until)
            return int(held).to_bytes(32, "big")
        assert data[:4] == AUDITOR_KEY_SELECTOR and block is None
        if data[4:] != fp:
            return bytes(128)
        words = (community, int(AUDITOR, 16), registered, revoked)
        return b"".join(w.to_bytes(32, "big") for w in words)

    return eth_call


def test_fingerprint_is_sha256_of_the_raw_key_and_prefixes_the_key_id(tmp_path: Path) -> None:
    document, fp = _document(tmp_path, 10)
    assert document_fingerprint(document) == fp
    assert document["signature"]["key_id"] == "ed25519:" + fp.hex()[:16]


def test_a_registered_key_names_its_auditor_community_and_block(tmp_path: Path) -> None:
    document, fp = _document(tmp_path, 10)
    signer = judge(document, _registry(fp, 3, 7, 0), REGISTRY)
    assert signer.registered and signer.registration is not None
    assert signer.registration.auditor.lower() == AUDITOR
    assert signer.to_json()["community"] == 3 and signer.to_json()["registered_at_block"] == 7
    assert "registered auditor 0x" in signer.reason and "block 7" in signer.reason


def test_an_unregistered_key_is_said_so(tmp_path: Path) -> None:
    document, _ = _document(tmp_path, 10)
    signer = judge(document, _registry(b"\x00" * 32, 3, 7, 0), REGISTRY)
    assert not signer.registered and signer.registration is None
    assert signer.reason.startswith("signed by an unregistered key 0x")


def test_a_revoked_key_counts_only_for_reports_ending_before_its_revocation(
    tmp_path: Path,
) -> None:
    for to_block, counts in ((19, True), (20, False), (30, False)):
        document, fp = _document(tmp_path / str(to_block), to_block)
        signer = judge(document, _registry(fp, 3, 7, 20), REGISTRY)
        assert signer.registered is counts, (to_block, signer.reason)
        assert "revoked in block 20" in signer.reason


def test_an_unsigned_report_has_no_signer(tmp_path: Path) -> None:
    signer = judge(sign({"chain": {}}, None), _registry(b"", 0, 0, 0), REGISTRY)
    assert not signer.registered and signer.fingerprint is None


def test_an_auditor_let_go_signs_no_report_of_the_blocks_from_then_on(tmp_path: Path) -> None:
    for to_block, counts in ((4, True), (14, True), (15, False), (40, False)):
        document, fp = _document(tmp_path / str(to_block), to_block)
        signer = judge(document, _registry(fp, 3, 7, 0, role_until=15), REGISTRY)
        assert signer.registered is counts, (to_block, signer.reason)
        if not counts:
            assert f"no longer held AUDITOR at block {to_block}" in signer.reason
