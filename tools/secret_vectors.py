"""Write the secret-ballot test vectors (tests/vectors/secret_ballot.json) that every
implementation of the protocol checks itself against: ledger.secret (Python), SecretProofs.sol
(tests/contracts/test_secret_proofs.py) and the page's code.

    python -m tools.secret_vectors          rewrite tests/vectors/secret_ballot.json
    python -m tools.secret_vectors --check  exit 1 when the checked-in file differs

Deterministic: every scalar comes from `seeded_draw(SEED)`, the i-th being
keccak256(SEED ‖ uint256(i)) mod r, drawn in the order the code documents (ballot.encrypt_messages,
dkg.Dealer.random, tally.decrypt_partial). Every number is a 0x-prefixed hex string.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

from ledger.hashing import keccak
from ledger.secret import dkg, tally
from ledger.secret.ballot import Ballot, BallotStatement, Ciphertext, encrypt, encrypt_messages
from ledger.secret.group import Draw, G, P, Point, R
from ledger.secret.transcript import TAG_BALLOT, TAG_PARTIAL, TAG_SHARE, VoteContext, hash_words

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "secret_ballot.json"
SEED = keccak(b"commons.secret.vectors.v1")
CONTEXT = VoteContext.at(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 1)
QUESTION = int.from_bytes(keccak(b"Which bench for the square?"), "big")
THRESHOLD, TRUSTEES = 2, 3
ELECTION_OPTIONS = 3
ELECTION_CHOICES = [0, 2, 2, 1, 2]
VOTERS = [0x70997970C51812DC3A010C7D01B50E0D17DC79C8 + i for i in range(8)]


def seeded_draw(seed: bytes) -> Draw:
    """The scalars keccak256(seed ‖ uint256(i)) mod r for i = 0, 1, 2, ..."""
    counter: Iterator[int] = count()
    return lambda: int.from_bytes(keccak(seed + next(counter).to_bytes(32, "big")), "big") % R


def hexed(value: int) -> str:
    return hex(value)


def point_json(point: Point) -> list[str]:
    return [hexed(word) for word in point.words()]


def words_json(words: list[int]) -> list[str]:
    return [hexed(word) for word in words]


def _dkg(draw: Draw) -> tuple[dict[str, Any], Point, dict[int, int]]:
    indices = range(1, TRUSTEES + 1)
    comm_secrets = {k: draw() for k in indices}
    comm_keys = {k: s * G for k, s in comm_secrets.items()}
    dealers = {i: dkg.Dealer.random(i, THRESHOLD, draw) for i in indices}
    dealings = {i: d.deal(CONTEXT, comm_secrets[i], comm_keys) for i, d in dealers.items()}
    commitments = {i: d.commitments for i, d in dealings.items()}
    qualified = list(indices)
    key = dkg.election_key(commitments, qualified)
    shares = {
        k: dkg.secret_share({i: dealers[i].share_for(k) for i in qualified}, qualified)
        for k in indices
    }
    keys = {k: dkg.verification_key(commitments, qualified, k) for k in indices}
    record = {
        "threshold": THRESHOLD,
        "trustees": [
            {
                "index": k,
                "communicationSecret": hexed(comm_secrets[k]),
                "communicationKey": point_json(comm_keys[k]),
                "coefficients": [hexed(a) for a in dealers[k].coefficients],
                "commitments": [point_json(c) for c in commitments[k]],
                "encryptedShares": {
                    str(j): hexed(e) for j, e in dealings[k].encrypted_shares.items()
                },
                "share": hexed(shares[k]),
                "verificationKey": point_json(keys[k]),
            }
            for k in indices
        ],
        "electionKey": point_json(key),
    }
    return record, key, shares


def _ballot_json(st: BallotStatement, ballot: Ballot, valid: bool, why: str) -> dict[str, Any]:
    return {
        "why": why,
        "valid": valid,
        "voter": hexed(st.voter),
        "options": st.options,
        "words": words_json(ballot.words()),
        "digest": "0x" + ballot.digest().hex(),
    }


def _tampered(key: Point, draw: Draw) -> list[dict[str, Any]]:
    st = BallotStatement(CONTEXT, key, VOTERS[7], QUESTION, 3)
    honest = encrypt(st, 1, draw)
    cases: list[dict[str, Any]] = []

    def words_case(why: str, words: list[int], voter: int = VOTERS[7]) -> None:
        cases.append(
            {
                "why": why,
                "valid": False,
                "voter": hexed(voter),
                "options": 3,
                "words": words_json(words),
            }
        )

    words = honest.words()
    words_case("copied to another voter", words, VOTERS[6])
    changed = list(words)
    changed[12] = (changed[12] + 1) % R
    words_case("challenge changed", changed)
    changed = list(words)
    changed[-1] = (changed[-1] + 1) % R
    words_case("sum response changed", changed)
    changed = list(words)
    changed[0] += P
    words_case("x + p", changed)
    changed = list(words)
    changed[1] ^= 1
    words_case("off the curve", changed)
    changed = list(words)
    changed[13] += R
    words_case("scalar plus r", changed)
    extra = draw()
    rerandomized = Ballot(
        tuple(Ciphertext(c.a + extra * G, c.b + extra * key) for c in honest.ciphertexts),
        honest.challenge,
        honest.option_proofs,
        honest.z_sum,
    )
    words_case("re-randomized copy", rerandomized.words())
    for why, messages in (("two ones", [1, 1, 0]), ("all zeros", [0, 0, 0]), ("a two", [2, 0, 0])):
        words_case(why, encrypt_messages(st, messages, draw).words())
    return cases


def _tally(
    key: Point, shares: dict[int, int], draw: Draw
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    ballots = []
    records = []
    for voter, choice in zip(VOTERS, ELECTION_CHOICES, strict=False):
        st = BallotStatement(CONTEXT, key, voter, QUESTION, ELECTION_OPTIONS)
        ballot = encrypt(st, choice, draw)
        ballots.append(ballot)
        records.append(_ballot_json(st, ballot, True, f"voter chooses option {choice}"))
    sums = tally.aggregate((b.ciphertexts for b in ballots), ELECTION_OPTIONS)
    partials = [
        tally.decrypt_partial(CONTEXT, k, j, shares[k], sums[j].a, draw)
        for k in sorted(shares)
        for j in range(ELECTION_OPTIONS)
    ]
    first_t = sorted(shares)[:THRESHOLD]
    counted = [
        {p.trustee: p.share for p in partials if p.option == j and p.trustee in first_t}
        for j in range(ELECTION_OPTIONS)
    ]
    counts = tally.tally(sums, counted, len(ballots))
    lambdas = dkg.lagrange_at_zero(first_t)
    record = {
        "aggregate": [{"a": point_json(s.a), "b": point_json(s.b)} for s in sums],
        "partials": [
            {"trustee": p.trustee, "option": p.option, "words": words_json(p.words())}
            for p in partials
        ],
        "finalizers": first_t,
        "lagrange": {str(k): hexed(v) for k, v in lambdas.items()},
        "counts": counts,
        "ballots": len(ballots),
    }
    return records, record


def build() -> dict[str, Any]:
    draw = seeded_draw(SEED)
    dkg_record, key, shares = _dkg(draw)
    election_ballots, tally_record = _tally(key, shares, draw)
    extra_ballots = []
    for options, choice in ((2, 1), (5, 3), (8, 0)):
        st = BallotStatement(CONTEXT, key, VOTERS[5], QUESTION, options)
        extra_ballots.append(
            _ballot_json(st, encrypt(st, choice, draw), True, f"{options} options, choice {choice}")
        )
    example = [TAG_BALLOT, 1, 2, R - 1, 2**256 - 1]
    return {
        "about": "Secret-ballot test vectors (docs/secret-ballots.md), written by "
        "`python -m tools.secret_vectors`; numbers are hex strings.",
        "curve": {"p": hexed(P), "r": hexed(R), "g": ["0x1", "0x2"]},
        "tags": {
            "ballot": hexed(TAG_BALLOT),
            "partial": hexed(TAG_PARTIAL),
            "share": hexed(TAG_SHARE),
        },
        "hash": {
            "words": words_json(example),
            "h": hexed(hash_words(example)),
        },
        "context": {
            "chainId": CONTEXT.chain_id,
            "contract": hexed(CONTEXT.contract),
            "voteId": CONTEXT.vote_id,
            "question": hexed(QUESTION),
        },
        "dkg": dkg_record,
        "ballots": election_ballots + extra_ballots,
        "tampered": _tampered(key, draw),
        "tally": tally_record,
    }


def render() -> str:
    return json.dumps(build(), indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} differs; run python -m tools.secret_vectors", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
