"""The hand-laid EIP-712 digests (ledger.signing.digests) equal eth-account's typed-data
encoding for any field values."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.hashing import keccak
from ledger.protocol.generated import Domains, TypedStruct, Types
from ledger.signing import digests
from ledger.signing.election_ballots import encode_ranking
from ledger.signing.election_proxy_ballots import (
    ElectionProxyDomain,
    election_proxy_ballot_digest,
    make_election_proxy_ballot,
    sign_election_proxy_ballot,
)

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESS = st.binary(min_size=20, max_size=20)
WORD = st.binary(min_size=32, max_size=32)
CHAIN_ID = st.integers(min_value=1, max_value=2**64)
NAMES = st.text(max_size=40)


def eth_account_digest(
    domain: tuple[str, str, int, bytes], typed: TypedStruct, message: dict[str, Any]
) -> bytes:
    name, version, chain_id, contract = domain
    signable = encode_typed_data(
        full_message={
            "types": {**Types.EIP712Domain.eip712_types(), **typed.eip712_types()},
            "domain": {
                "name": name,
                "version": version,
                "chainId": chain_id,
                "verifyingContract": to_checksum_address(contract),
            },
            "primaryType": typed.name,
            "message": message,
        }
    )
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def separator(domain: tuple[str, str, int, bytes]) -> bytes:
    return digests.domain_separator(*domain)


DOMAIN = st.tuples(NAMES, NAMES, CHAIN_ID, ADDRESS)


@settings(max_examples=60, deadline=None)
@given(DOMAIN, UINT256, ADDRESS, st.integers(min_value=0, max_value=255))
def test_ballot_digest_equals_eth_accounts(
    domain: tuple[str, str, int, bytes], proposal_id: int, voter: bytes, option: int
) -> None:
    message = {"proposalId": proposal_id, "voter": to_checksum_address(voter), "option": option}
    expected = eth_account_digest(domain, Types.Ballot, message)
    assert digests.ballot_digest(separator(domain), proposal_id, voter, option) == expected


@settings(max_examples=60, deadline=None)
@given(
    DOMAIN,
    UINT256,
    ADDRESS,
    ADDRESS,
    st.integers(min_value=0, max_value=2**32 - 1),
    st.binary(min_size=8, max_size=8),
    WORD,
    UINT256,
)
def test_service_record_digest_equals_eth_accounts(
    domain: tuple[str, str, int, bytes],
    community_id: int,
    provider: bytes,
    recipient: bytes,
    minutes: int,
    category: bytes,
    note_hash: bytes,
    nonce: int,
) -> None:
    message = {
        "communityId": community_id,
        "provider": to_checksum_address(provider),
        "recipient": to_checksum_address(recipient),
        "minutesServed": minutes,
        "category": category,
        "noteHash": note_hash,
        "nonce": nonce,
    }
    struct = digests.service_record_hash(
        community_id, provider, recipient, minutes, category, note_hash, nonce
    )
    expected = eth_account_digest(domain, Types.ServiceRecord, message)
    assert digests.typed_digest(separator(domain), struct) == expected


@settings(max_examples=40, deadline=None)
@given(DOMAIN, WORD, WORD)
def test_service_reversal_digest_equals_eth_accounts(
    domain: tuple[str, str, int, bytes], record_id: bytes, reason_hash: bytes
) -> None:
    message = {"recordId": record_id, "reasonHash": reason_hash}
    struct = digests.service_reversal_hash(record_id, reason_hash)
    expected = eth_account_digest(domain, Types.ServiceReversal, message)
    assert digests.typed_digest(separator(domain), struct) == expected


@settings(max_examples=40, deadline=None)
@given(
    CHAIN_ID,
    ADDRESS,
    WORD,
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=0, max_value=2**64 - 1),
)
def test_acknowledgement_digest_equals_eth_accounts(
    chain_id: int, forwarder: bytes, message: bytes, accepted_at: int, land_by: int
) -> None:
    domain = (Domains.Relay.name, Domains.Relay.version, chain_id, forwarder)
    body = {"message": message, "acceptedAt": accepted_at, "landBy": land_by}
    struct = digests.acknowledgement_hash(message, accepted_at, land_by)
    expected = eth_account_digest(domain, Types.Acknowledgement, body)
    assert digests.typed_digest(separator(domain), struct) == expected


@settings(max_examples=60, deadline=None)
@given(
    DOMAIN,
    ADDRESS,
    ADDRESS,
    UINT256,
    UINT256,
    UINT256,
    st.integers(min_value=0, max_value=2**48 - 1),
    st.binary(max_size=300),
)
def test_forward_request_digest_equals_eth_accounts(
    domain: tuple[str, str, int, bytes],
    sender: bytes,
    to: bytes,
    value: int,
    gas: int,
    nonce: int,
    deadline: int,
    data: bytes,
) -> None:
    message = {
        "from": to_checksum_address(sender),
        "to": to_checksum_address(to),
        "value": value,
        "gas": gas,
        "nonce": nonce,
        "deadline": deadline,
        "data": data,
    }
    struct = digests.forward_request_hash(sender, to, value, gas, nonce, deadline, data)
    expected = eth_account_digest(domain, Types.ForwardRequest, message)
    assert digests.typed_digest(separator(domain), struct) == expected


@settings(max_examples=60, deadline=None)
@given(DOMAIN, UINT256, ADDRESS, ADDRESS, st.integers(min_value=0, max_value=2**64 - 1))
def test_election_proxy_ballot_digest_equals_eth_accounts(
    domain: tuple[str, str, int, bytes], election_id: int, voter: bytes, proxy: bytes, choices: int
) -> None:
    ballot = make_election_proxy_ballot(
        election_id, to_checksum_address(voter), to_checksum_address(proxy), choices
    )
    expected = eth_account_digest(domain, Types.ElectionProxyBallot, ballot.message())
    assert election_proxy_ballot_digest(separator(domain), ballot) == expected


def test_the_pages_election_proxy_ballot_vector_is_the_one_python_signs() -> None:
    """web/tests/elections.unit.test.mjs pins the page's digest of this ballot to the same value."""
    d = Domains.ElectionProxies
    domain = (d.name, d.version, 31337, bytes.fromhex("5FbDB2315678afecb367f032d93F642f64180aa3"))
    ballot = make_election_proxy_ballot(
        7,
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        encode_ranking([2, 0, 1]),
    )
    digest = election_proxy_ballot_digest(separator(domain), ballot)
    assert "0x" + digest.hex() == (
        "0x213c42a1154fc02917a4997ccecdd46a66fa2990696052fd53b3087847b95c62"
    )


def test_the_pages_election_proxy_ballot_signature_is_the_one_python_makes() -> None:
    """web/tests/elections.unit.test.mjs signs the same ballot with the same key in the page's
    code and expects these bytes."""
    proxy = Account.from_key("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
    domain = ElectionProxyDomain(
        31337, to_checksum_address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
    )
    ballot = make_election_proxy_ballot(
        7, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", proxy.address, encode_ranking([2, 0, 1])
    )
    signed = sign_election_proxy_ballot(proxy, ballot, domain)
    assert "0x" + signed.signature.hex() == (
        "0xec8ccb3ac0136cd45fb99cf8ad503b57fc4a84483d3efee35378eb38d17b4877784c0c3b104e44769174429540d84aad2a8ab25b1d9065eb10c613dc336617531b"
    )
