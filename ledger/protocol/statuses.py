"""The HTTP status of every refusal the API can answer with: each contract custom error, and
each code the relay refuses a signed message with before it reaches the chain.

Written by hand, because a status is a judgement about what the client should do next, which
no ABI says. tests/ledger/test_protocol.py fails when a contract error has no status here or
this table names an error no contract has.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Status(NamedTuple):
    code: int
    why: str


# The sender lacks the role or standing the rule asks for: another account could do it.
FORBIDDEN: Final = Status(403, "the sender lacks the role or standing this needs")
# Done before, or the thing's state refuses it now: sending the same again will not help.
CONFLICT: Final = Status(409, "already done, or the thing's state refuses it")
# The values sent break a rule: the request must change.
INVALID: Final = Status(422, "the values sent break a rule")

CONTRACT_ERRORS: Final[dict[str, Status]] = {
    "AboveCeiling": INVALID,
    "AlreadyApproved": CONFLICT,
    "AlreadyCarriedOver": CONFLICT,
    "AlreadyCounted": CONFLICT,
    "AlreadyDone": CONFLICT,
    "AlreadyFinalized": CONFLICT,
    "AlreadyOnRoll": CONFLICT,
    "AlreadyReversed": CONFLICT,
    "AlreadyVoted": CONFLICT,
    "AmountTooLarge": INVALID,
    "AuditorKeyAlreadyRegistered": CONFLICT,
    "AuditorKeyAlreadyRevoked": CONFLICT,
    # Like NotOnRoll: the roll, not a role, says who may submit.
    "AuthorNotOnRoll": INVALID,
    "BallotAlreadyVoided": CONFLICT,
    "BallotBoxRecycled": INVALID,
    "BallotNotInBatch": INVALID,
    "BallotProofsValid": CONFLICT,
    "BallotsAreSecret": CONFLICT,
    "BallotsRecycled": INVALID,
    "BatchRootMismatch": INVALID,
    "BelowFloor": INVALID,
    "CoSignerBitmapRecycled": INVALID,
    "CoordinatorIsParty": INVALID,
    "CurrencyAlreadySet": CONFLICT,
    "CurrencyMismatch": INVALID,
    "CurrencyNotSet": INVALID,
    "ERC2771ForwarderExpiredRequest": INVALID,
    "ERC2771ForwarderInvalidSigner": INVALID,
    "ERC2771ForwarderMismatchedValue": INVALID,
    "ERC2771ForwarderNoRefundReceiver": INVALID,
    "ERC2771UntrustfulTarget": INVALID,
    "ElectionNotClosed": INVALID,
    "EligibilityFrozen": CONFLICT,
    "EmptyCountStep": INVALID,
    "EmptyRoll": INVALID,
    "ExecutionAlreadyCompleted": CONFLICT,
    "FailedCall": INVALID,
    "GrantAlreadyOpened": CONFLICT,
    "GrantExceedsBudget": INVALID,
    "GrantIsClosed": INVALID,
    "GrantNotFound": INVALID,
    # The admin has not set the rules yet: the same request succeeds once they are.
    "InitiativesNotEnabled": CONFLICT,
    "InsufficientBalance": INVALID,
    "InsufficientFund": INVALID,
    "InsufficientGrant": INVALID,
    "InvalidAccountNonce": INVALID,
    "InvalidBasisPoints": INVALID,
    "InvalidBudget": INVALID,
    "InvalidCandidateCount": INVALID,
    "InvalidComplaint": INVALID,
    "InvalidCurrency": INVALID,
    "InvalidInitiativeRules": INVALID,
    "InvalidLimits": INVALID,
    "InvalidMaxChoices": INVALID,
    "InvalidOption": INVALID,
    "InvalidOptionCount": INVALID,
    "InvalidOptions": INVALID,
    "InvalidPartialDecryption": INVALID,
    "InvalidPoint": INVALID,
    "InvalidProjectCost": INVALID,
    "InvalidProjectLimits": INVALID,
    "InvalidRecipient": INVALID,
    "InvalidRoundSchedule": INVALID,
    "InvalidSchedule": INVALID,
    "InvalidSeats": INVALID,
    "InvalidSecretSchedule": INVALID,
    "InvalidShortString": INVALID,
    "InvalidThreshold": INVALID,
    "InvalidTrustees": INVALID,
    "KeyAlreadyReplaced": CONFLICT,
    "KeyRetired": FORBIDDEN,
    "MalformedDeal": INVALID,
    "MalformedPartials": INVALID,
    "MissingCandidateHash": INVALID,
    "MissingEvidence": INVALID,
    "MissingReasonHash": INVALID,
    "MissingRole": FORBIDDEN,
    "MissingTextHash": INVALID,
    "NoCommunicationKey": CONFLICT,
    "NoComplaint": INVALID,
    "NoPendingAdmin": CONFLICT,
    "NonceAlreadyUsed": CONFLICT,
    "NonceTooFarAhead": INVALID,
    "NotCommittee": FORBIDDEN,
    "NotCommitteeMember": FORBIDDEN,
    "NotCommunityAdmin": FORBIDDEN,
    "NotCoordinator": FORBIDDEN,
    "NotEnoughApprovals": INVALID,
    "NotEnoughPartials": CONFLICT,
    "NotKeyAuditorOrAdmin": FORBIDDEN,
    # Not a role: the roll says who is a resident, and the request names them.
    "NotOnRoll": INVALID,
    "NotParticipatoryBudget": FORBIDDEN,
    "NotPendingAdmin": FORBIDDEN,
    "NotQualified": FORBIDDEN,
    # Elections takes ballots without a voter's signature only from its PollOffice.
    "NotPollOffice": FORBIDDEN,
    # Elections takes proxy ballots only from the ElectionProxies that checked their mandates.
    "NotElectionProxies": FORBIDDEN,
    "NotRegistrar": FORBIDDEN,
    "NotRequesterOrAdmin": FORBIDDEN,
    "NotResident": INVALID,
    "NotSecretProposal": CONFLICT,
    "NotTrustee": FORBIDDEN,
    "PayoutNotFound": INVALID,
    "PayoutNotPending": INVALID,
    "ProjectAlreadyCompleted": CONFLICT,
    "ProjectAlreadyIneligible": CONFLICT,
    "ProjectNotCompleted": CONFLICT,
    "ProjectNotSelected": INVALID,
    "PromotionMismatch": CONFLICT,
    "ProposalAlreadyOpened": CONFLICT,
    "ProposalNotCompleted": CONFLICT,
    "ProposalNotOpen": CONFLICT,
    "ProposalNotPassed": INVALID,
    "ProposerNotOnRoll": INVALID,
    "RecordNotFound": INVALID,
    "RecordNotInBatch": INVALID,
    "ReplacementKeyNotFresh": INVALID,
    "RoleAlreadyGranted": CONFLICT,
    "RoleNotGranted": INVALID,
    "RollHistoryFull": INVALID,
    "RollHistoryPruned": INVALID,
    "RollTooLarge": INVALID,
    "RotationNotRecorded": CONFLICT,
    "RoundAlreadySelected": CONFLICT,
    "RoundFull": CONFLICT,
    "RoundVotingNotClosed": INVALID,
    "SameParty": INVALID,
    "SecretTallyPending": CONFLICT,
    "SecretVoteAlreadyLinked": CONFLICT,
    "SecretVoteMismatch": INVALID,
    "SecretVoteTaken": CONFLICT,
    # The requester may not be one of the approvers: someone else must approve.
    "SelfApproval": FORBIDDEN,
    "StringTooLong": INVALID,
    "SubmissionNotOpen": CONFLICT,
    "ThresholdNotSet": INVALID,
    "TooManyInitiatives": INVALID,
    "TooManyProposals": INVALID,
    "UnknownAuditorKey": INVALID,
    "UnknownBudgetProject": INVALID,
    "UnknownBudgetRound": INVALID,
    "UnknownCommunity": INVALID,
    "UnknownElection": INVALID,
    "UnknownInitiative": INVALID,
    "UnknownProposal": INVALID,
    "UnknownRole": INVALID,
    "UnknownRollVersion": INVALID,
    "UnknownSecretVote": INVALID,
    "VoterNotOnRoll": INVALID,
    "VotingNotClosed": INVALID,
    "WrongPhase": CONFLICT,
    "WrongSigner": INVALID,
    "WrongTally": INVALID,
    "ZeroAddress": INVALID,
    "ZeroAmount": INVALID,
    "ZeroKeyFingerprint": INVALID,
    "ZeroMinutes": INVALID,
    # Paper boxes: declared too late or too large, or a resident not (or already) assignable.
    "InvalidBoxSize": INVALID,
    "PaperBoxTooLate": CONFLICT,
    "PaperTotalsOutsideVoting": CONFLICT,
    "PaperVoterAssigned": CONFLICT,
    "PaperVoterNotOnRoll": INVALID,
}

# Codes the relay refuses a message with before simulation (ledger.errors.InvalidMessage).
RELAY_REFUSALS: Final[dict[str, Status]] = {
    # Initiatives and ratings, refused before the chain for the reason the contract would skip.
    "AlreadyCoSigned": CONFLICT,
    "AlreadyRated": CONFLICT,
    "InitiativeNotCollecting": CONFLICT,
    "InvalidScore": INVALID,
    "MalformedCoSignature": INVALID,
    "MalformedRating": INVALID,
    "RatingsClosed": CONFLICT,
    "BadSignature": INVALID,
    "CallReverted": INVALID,
    "DeadlineTooFar": INVALID,
    # An election ballot refused before the chain, for the reason the contract would skip it.
    "ElectionNotOpen": CONFLICT,
    "EmptyBallot": INVALID,
    "ExpiredRequest": INVALID,
    # Proxies (ledger/relay/mandates.py), refused for the reason the contracts would skip them.
    "InvalidScope": INVALID,
    "NoMandate": CONFLICT,
    "ProxyOverLimit": CONFLICT,
    "SelfProxy": INVALID,
    # Election proxy ballots (ledger/relay/election_proxy_ballots.py), for ElectionProxySkipReason.
    "AlreadyVotedByProxy": CONFLICT,
    "ProxyNotOnRoll": INVALID,
    "VotedThemself": CONFLICT,
    "GasOutOfRange": INVALID,
    # The forwarder's nonce moved on since the request was signed: sign again with the new one.
    "InvalidNonce": CONFLICT,
    "InvalidSignature": INVALID,
    "MalformedBallot": INVALID,
    "MalformedMandate": INVALID,
    "MalformedRecord": INVALID,
    "MalformedRequest": INVALID,
    "MalleableSignature": INVALID,
    # A budget ballot refused before the chain, for the reason the contract would skip it.
    "IneligibleProject": INVALID,
    "OverBudget": INVALID,
    "TooFewProjects": INVALID,
    "TooManyProjects": INVALID,
    "UnknownProject": INVALID,
    "VotingNotOpen": CONFLICT,
    # An in-person ballot signed by someone the Registry holds no POLL_OFFICER of the community.
    "NotPollOfficer": FORBIDDEN,
    "RepeatedCandidate": INVALID,
    "TooManyChoices": INVALID,
    "UnknownCandidate": INVALID,
    "UnknownTarget": INVALID,
    "ValueNotAccepted": INVALID,
    # A secret ballot refused before the chain (ledger/relay/secret_ballots.py): outside its
    # vote's window, or with points or proofs the chain would take and a challenge would void.
    "SecretVoteNotOpen": CONFLICT,
    "InvalidBallotPoint": INVALID,
    "InvalidBallotProof": INVALID,
    # Paper boxes (ledger/relay/box_totals.py): an officer's totals refused for the reason the
    # poll office would refuse them; a box's resident's ballot in another channel.
    "AssignedToPaperBox": CONFLICT,
    "BadPattern": INVALID,
    "BoxAlreadyCounted": CONFLICT,
    "BoxNotFound": INVALID,
    "EmptyTotals": INVALID,
    "MalformedTotals": INVALID,
    "OverAssigned": INVALID,
    "SameOfficerTwice": CONFLICT,
}


def status_of(code: str) -> int:
    """The HTTP status for a refusal code; a code in neither table is an invalid request."""
    status = CONTRACT_ERRORS.get(code) or RELAY_REFUSALS.get(code) or INVALID
    return status.code
