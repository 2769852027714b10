"""Request and response bodies of the secret-vote routes (api/routers/secret.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.schemas import Address, CamelOut, Hex32, Signature65, Strict
from ledger.secret.ballot import MAX_OPTIONS, word_count

# A uint256 as 0x-hex (leading zeros optional): a coordinate, a scalar.
Word = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{1,64}$")]

SecretVoteStateName = Literal[
    "Keys",
    "Dealing",
    "Complaints",
    "Answers",
    "KeyPending",
    "KeyFailed",
    "Pending",
    "Open",
    "Challenges",
    "Decryption",
    "Finalized",
]


SecretDisqualifyReasonName = Literal["NoKey", "NoDeal", "BadAnswer", "NoAnswer"]


class SecretTrusteeOut(CamelOut):
    """One trustee's steps as the chain's events record them: what anyone can read to see whose
    part of the key generation or of the tally is still to come."""

    trustee: int = Field(description="the trustee's number (1-based)")
    address: str
    key_registered: bool = Field(description="CommunicationKeyRegistered")
    dealt: bool = Field(description="SharesDealt")
    complaints_against: int = Field(description="DealComplained against this dealer")
    complaints_answered: int = Field(description="ComplaintAnswered by this dealer")
    disqualified: SecretDisqualifyReasonName | None = Field(description="TrusteeDisqualified")
    published_partial: bool = Field(description="PartialDecryptionPublished")


class SecretBallotIn(Strict):
    """A resident's encrypted ballot, signed: EIP-712 SecretBallot(uint256 voteId,address voter,
    bytes32 ballotHash) under ("CommonsSecretBallot", "1", chainId, secret ballot address),
    ballotHash = keccak256 of the packed `words` (the ciphertexts, then the proof: 7·options + 2
    words, docs/secret-ballots.md). The relay verifies the proofs before acknowledging."""

    voteId: Annotated[int, Field(ge=1, lt=2**256)]
    voter: Address
    words: Annotated[list[Word], Field(min_length=1, max_length=word_count(MAX_OPTIONS))]
    signature: Signature65


class SecretVoteOut(CamelOut):
    """A secret vote as the chain has it now. What would tell a partial result is absent
    (None) until ballots close: the counted ballots and their aggregate; the tally until it is
    finalized. `castCount` is the turnout the SecretBallotCast events show anyway."""

    vote_id: int
    community_id: int
    opener: str
    question_hash: Hex32
    # The question and its options from the text store (keyed by their keccak256, so a text
    # found is the one the vote committed to); None when nobody stored them.
    question: str | None
    options: list[str] | None
    option_count: int
    trustees: list[str]  # trustee k (1-based) is trustees[k - 1]
    threshold: int
    keys_by: int
    deals_by: int
    complaints_by: int
    answers_by: int
    opens_at: int
    closes_at: int
    challenges_until: int
    roll_version: int
    roll_size: int
    state: SecretVoteStateName
    # What a ballot is encrypted and proven for (ledger.secret.transcript.VoteContext).
    chain_id: int
    contract: str
    election_key: list[Word] | None = Field(description="Y as (x, y), once key generation closed")
    qualified: list[int] = Field(description="the trustees (1-based) who hold a share of the key")
    cast_count: int = Field(description="ballots counted when cast (SecretBallotCast events)")
    voided_count: int = Field(description="ballots voided by a challenge")
    ballot_count: int | None = Field(description="counted, non-voided ballots: after the close")
    aggregate: list[Word] | None = Field(
        description="for each option SA.x, SA.y, SB.x, SB.y: after the close"
    )
    partials_from: list[int] = Field(description="trustees who published a partial decryption")
    trustee_steps: list[SecretTrusteeOut] = Field(description="each trustee's steps, in order")
    tally: list[int] | None = Field(description="votes per option, once finalized")
    proposal_id: int | None = Field(
        description="the council proposal whose outcome this vote decides (linkSecretVote)"
    )


class SecretTallyOut(CamelOut):
    """The count found from the trustees' published parts, for anyone to record with
    finalizeSecretVote: the contract checks it against the aggregate and those parts, so a
    wrong count from this API would be refused there, not recorded."""

    vote_id: int
    tally: list[int] = Field(description="votes per option")
    trustees: list[int] = Field(description="the t trustees whose parts were combined")
    recorded: bool = Field(description="the vote is finalized with this tally")


class SecretBallotInclusionOut(CamelOut):
    """Whether and where a resident's secret ballot was counted: enough to check it against
    the batch hash the contract recorded, or to challenge it."""

    vote_id: int
    voter: str
    voted: bool
    ballot_hash: Hex32 | None
    block: int | None
    tx_hash: str | None
    batch: int | None = Field(description="the SecretBatchRecorded batch it was counted in")
    position: int | None = Field(description="its place among that batch's counted ballots")
    voided: bool
