"""A secret ballot: one exponential-ElGamal ciphertext per option under the election key Y, a
disjunctive Chaum-Pedersen proof per option that it encrypts 0 or 1, and a proof that the
options add up to exactly 1, all under one Fiat-Shamir challenge (transcript.ballot_challenge)
that binds the chain, the contract, the vote, the key, the voter, the question and every
ciphertext: a ballot copied, redirected or re-randomized no longer verifies.

Words as sent (7n + 2 for n options): A_0.x, A_0.y, B_0.x, B_0.y, ..., A_{n-1}..B_{n-1}, then
the proof c, (c0_j, z0_j, z1_j) for each option j, z_s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ledger.hashing import keccak
from ledger.protocol.generated import Constants
from ledger.secret.errors import InvalidScalar
from ledger.secret.group import Draw, G, Point, R, check_scalar, multi_mul, random_scalar
from ledger.secret.transcript import VoteContext, ballot_challenge, encode, point_words

MIN_OPTIONS: Final = 2
MAX_OPTIONS: Final = Constants.MAX_SECRET_OPTIONS


@dataclass(frozen=True)
class BallotStatement:
    """Everything a ballot's proof is about besides its ciphertexts: the vote, its key Y, the
    voter (address as an integer), the question's hash and the number of options."""

    context: VoteContext
    key: Point
    voter: int
    question: int
    options: int

    def __post_init__(self) -> None:
        if not MIN_OPTIONS <= self.options <= MAX_OPTIONS:
            raise ValueError(f"a secret ballot has {MIN_OPTIONS}..{MAX_OPTIONS} options")
        # Under the point at infinity B_j = m_j·g: the vote would be in clear.
        if self.key.is_infinity():
            raise ValueError("the election key is the point at infinity")


@dataclass(frozen=True)
class Ciphertext:
    """(A, B) = (rho·g, m·g + rho·Y)."""

    a: Point
    b: Point


@dataclass(frozen=True)
class OptionProof:
    """One option's responses: branch 0's challenge and both branches' responses (branch 1's
    challenge is c - c0)."""

    c0: int
    z0: int
    z1: int


@dataclass(frozen=True)
class Ballot:
    ciphertexts: tuple[Ciphertext, ...]
    challenge: int
    option_proofs: tuple[OptionProof, ...]
    z_sum: int

    def ciphertext_words(self) -> list[int]:
        return point_words(p for ct in self.ciphertexts for p in (ct.a, ct.b))

    def proof_words(self) -> list[int]:
        responses = [w for op in self.option_proofs for w in (op.c0, op.z0, op.z1)]
        return [self.challenge, *responses, self.z_sum]

    def words(self) -> list[int]:
        """The ballot as calldata words: ciphertexts, then the proof."""
        return self.ciphertext_words() + self.proof_words()

    def digest(self) -> bytes:
        """keccak256 of the ballot's words (abi.encode), the value the voter signs."""
        return keccak(encode(self.words()))


def word_count(options: int) -> int:
    """How many words a ballot of `options` options takes: 4 per ciphertext, 1 + 3n + 1 proof."""
    return 7 * options + 2


def parse_ballot(words: Sequence[int], options: int) -> Ballot:
    """A ballot read from untrusted words, every point and scalar checked (InvalidPoint,
    InvalidScalar; ValueError for a wrong number of words)."""
    if len(words) != word_count(options):
        raise ValueError(f"a ballot of {options} options has {word_count(options)} words")
    ciphertexts = tuple(
        Ciphertext(
            Point.from_words(words[4 * j], words[4 * j + 1]),
            Point.from_words(words[4 * j + 2], words[4 * j + 3]),
        )
        for j in range(options)
    )
    proof = [check_scalar(word) for word in words[4 * options :]]
    option_proofs = tuple(
        OptionProof(proof[1 + 3 * j], proof[2 + 3 * j], proof[3 + 3 * j]) for j in range(options)
    )
    return Ballot(ciphertexts, proof[0], option_proofs, proof[-1])


def encrypt(statement: BallotStatement, choice: int, draw: Draw = random_scalar) -> Ballot:
    """The ballot for option `choice` (0-based), with its proof."""
    if not 0 <= choice < statement.options:
        raise ValueError(f"choice {choice} is not one of {statement.options} options")
    messages = [1 if j == choice else 0 for j in range(statement.options)]
    return encrypt_messages(statement, messages, draw)


def encrypt_messages(
    statement: BallotStatement, messages: Sequence[int], draw: Draw = random_scalar
) -> Ballot:
    """The prover run on any plaintext vector. For one 1 among 0s its proof verifies; for any
    other vector (two 1s, all 0s, a 2) it follows the protocol as far as it can and the proof
    does not verify, which is what the tests show. Scalars are drawn per option in the order
    rho_j, w_j, c_j (the simulated branch's challenge), z_j (its response), then w_s."""
    if len(messages) != statement.options:
        raise ValueError(f"{len(messages)} messages for {statement.options} options")
    y = statement.key
    ciphertexts: list[Ciphertext] = []
    commitments: list[Point] = []
    secrets: list[tuple[int, int, int, int, int]] = []
    for m in messages:
        rho, w, c_fake, z_fake = draw(), draw(), draw(), draw()
        a, b = rho * G, multi_mul([G, y], [m, rho])
        real = m if m in (0, 1) else 1
        fake = 1 - real
        branches = {
            real: (w * G, w * y),
            fake: (
                multi_mul([G, a], [z_fake, -c_fake]),
                multi_mul([y, b - fake * G], [z_fake, -c_fake]),
            ),
        }
        commitments += [*branches[0], *branches[1]]
        ciphertexts.append(Ciphertext(a, b))
        secrets.append((real, rho, w, c_fake, z_fake))
    w_sum = draw()
    commitments += [w_sum * G, w_sum * y]
    cipher_words = point_words(p for ct in ciphertexts for p in (ct.a, ct.b))
    c = ballot_challenge(
        statement.context,
        y,
        statement.voter,
        statement.question,
        cipher_words,
        point_words(commitments),
    )
    option_proofs = []
    for real, rho, w, c_fake, z_fake in secrets:
        c_real = (c - c_fake) % R
        z_real = (w + c_real * rho) % R
        if real == 0:
            option_proofs.append(OptionProof(c_real, z_real, z_fake))
        else:
            option_proofs.append(OptionProof(c_fake, z_fake, z_real))
    z_sum = (w_sum + c * sum(rho for _, rho, _, _, _ in secrets)) % R
    return Ballot(tuple(ciphertexts), c, tuple(option_proofs), z_sum)


def recompute_commitments(statement: BallotStatement, ballot: Ballot) -> list[Point]:
    """The prover's commitments as the verifier rebuilds them from the responses: for each
    option a_0j, b_0j, a_1j, b_1j, then a_s, b_s."""
    y, c = statement.key, ballot.challenge
    commitments: list[Point] = []
    sum_a, sum_b = Point.infinity(), Point.infinity()
    for ct, op in zip(ballot.ciphertexts, ballot.option_proofs, strict=True):
        c1 = (c - op.c0) % R
        b_minus_g = ct.b - G
        commitments += [
            multi_mul([G, ct.a], [op.z0, -op.c0]),
            multi_mul([y, ct.b], [op.z0, -op.c0]),
            multi_mul([G, ct.a], [op.z1, -c1]),
            multi_mul([y, b_minus_g], [op.z1, -c1]),
        ]
        sum_a, sum_b = sum_a + ct.a, sum_b + ct.b
    commitments += [
        multi_mul([G, sum_a], [ballot.z_sum, -c]),
        multi_mul([y, sum_b - G], [ballot.z_sum, -c]),
    ]
    return commitments


def verify(statement: BallotStatement, ballot: Ballot) -> bool:
    """Whether `ballot` proves that it encrypts one 1 among 0s under the statement's key, for
    this voter and vote."""
    if len(ballot.ciphertexts) != statement.options:
        return False
    if len(ballot.option_proofs) != statement.options:
        return False
    try:
        for word in ballot.proof_words():
            check_scalar(word)
    except InvalidScalar:
        return False
    expected = ballot_challenge(
        statement.context,
        statement.key,
        statement.voter,
        statement.question,
        ballot.ciphertext_words(),
        point_words(recompute_commitments(statement, ballot)),
    )
    return expected == ballot.challenge
