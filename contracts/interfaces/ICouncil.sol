// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ISecretBallot} from "./ISecretBallot.sol";

/// @title ICouncil
/// @notice Proposals, ballots, tallies, results and execution milestones of community councils.
/// @dev Eligibility is judged on the community's roll as published when the proposal was opened
/// (see IRegistry). Residents sign EIP-712 ballots
/// `Ballot(uint256 proposalId,address voter,uint8 option)` under the domain
/// ("CommonsCouncil", "1", chain id, this contract), so a signature cannot be replayed on another
/// proposal, contract or chain; anyone may relay many of them in one transaction, and a ballot that
/// breaks a rule is skipped with a {BallotSkipped} reason instead of reverting the batch.
/// Every counted ballot emits {BallotCast} with its EIP-712 digest: a resident's receipt
/// (tx hash, proposal id, digest) can be checked against any node.
///
/// Proxy ballots: a resident's proxy (see IMandates) signs
/// `ProxyBallot(uint256 proposalId,address voter,address proxy,uint8 option)` under the same
/// domain, relayed by {castProxyBallots}; it counts for `voter` while the resident has not voted
/// themself. The resident's own ballot always wins: cast later, it takes the proxy ballot's place in
/// the tally ({ProxyBallotOverridden}, then {BallotCast}); cast earlier, the proxy ballot is
/// skipped. The tally therefore always holds one ballot per resident who voted either way.
interface ICouncil {
    // ---------------------------------------------------------------- types

    /// @notice How a proposal's options are read.
    /// @dev YesNoAbstain: exactly 3 options, 0 = yes, 1 = no, 2 = abstain; passes when yes is more
    /// than `thresholdBps` of yes + no. MultipleChoice: 2..MAX_OPTIONS options; passes when one
    /// option alone leads and has more than `thresholdBps` of all ballots.
    /// SecretYesNoAbstain and SecretMultipleChoice read their options and decide the same way, but
    /// their ballots are cast in the secret vote linked to them ({linkSecretVote}). Secrecy is a
    /// kind rather than a flag of its own so that {ProposalParams}, {ProposalOpened} and every
    /// existing caller keep their shape.
    enum BallotKind {
        YesNoAbstain,
        MultipleChoice,
        SecretYesNoAbstain,
        SecretMultipleChoice
    }

    /// @notice Where a proposal is in its life (derived from time and finalization).
    enum ProposalState {
        Pending,
        Open,
        Closed,
        Finalized
    }

    /// @notice A finalized proposal's result (None until finalized). TallyNeverPublished: a
    /// secret-ballot proposal whose secret vote had no proven tally SECRET_TALLY_GRACE after its
    /// challenge window closed; it is not decided.
    enum Outcome {
        None,
        Passed,
        Rejected,
        NoQuorum,
        TallyNeverPublished
    }

    /// @notice Progress of a passed proposal's execution.
    enum ExecutionStatus {
        NotStarted,
        InProgress,
        Completed
    }

    /// @notice Why a relayed ballot was not counted.
    enum SkipReason {
        ProposalNotOpen,
        InvalidOption,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        AlreadyVoted,
        SecretBallotsOnly
    }

    /// @notice Why a relayed proxy ballot was not counted.
    /// @dev NotOnRoll / ProxyNotOnRoll: at the proposal's roll snapshot. NoMandate: the resident's
    /// live mandate does not name this proxy for this proposal (mandates do not pass on: a proxy's
    /// own proxy is not the resident's). VotedThemself: the resident's own ballot is counted.
    /// ProxyOverLimit: the proxy already cast the community's proxy limit of proxy ballots here.
    enum ProxyBallotSkipReason {
        ProposalNotOpen,
        InvalidOption,
        BadSignature,
        MalleableSignature,
        NotOnRoll,
        ProxyNotOnRoll,
        NoMandate,
        VotedThemself,
        AlreadyVotedByProxy,
        ProxyOverLimit,
        SecretBallotsOnly
    }

    /// @notice Which condition of {linkSecretVote} a secret vote failed.
    /// @dev Community: not the proposal's community. Question: its questionHash is not the
    /// proposal's textHash. OptionCount: not the proposal's option count. Schedule: its opensAt or
    /// closesAt differs from the proposal's. Roll: its roll snapshot is not the proposal's, so the
    /// quorum would be judged on another roll than the one that voted.
    enum SecretLinkField {
        Community,
        Question,
        OptionCount,
        Schedule,
        Roll
    }

    /// @notice What a committee member gives to open a proposal.
    /// @param communityId The community whose roll votes.
    /// @param textHash keccak256 of the full proposal text (kept off-chain).
    /// @param kind How options are read.
    /// @param optionCount Number of options (3 for YesNoAbstain).
    /// @param opensAt Unix time ballots are accepted from (may be in the past: open at once).
    /// @param closesAt Unix time ballots stop being accepted.
    /// @param quorumBps Minimum turnout (all ballots, abstentions included) in basis points of the
    /// roll size at the snapshot; turnout * 10000 >= quorumBps * rollSize.
    /// @param thresholdBps Share to exceed in basis points (5000 = simple majority, 6666 = two-thirds).
    /// @param budgetAmount Requested budget in integer minor units (0 = none).
    /// @param budgetCurrency ISO 4217 code as three upper-case letters (required with a budget).
    struct ProposalParams {
        uint256 communityId;
        bytes32 textHash;
        BallotKind kind;
        uint8 optionCount;
        uint64 opensAt;
        uint64 closesAt;
        uint16 quorumBps;
        uint16 thresholdBps;
        uint128 budgetAmount;
        bytes3 budgetCurrency;
    }

    /// @notice A resident's signed ballot as a relayer submits it.
    /// @param voter The resident who signed (must equal the recovered signer).
    /// @param option The chosen option.
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedBallot {
        address voter;
        uint8 option;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice A proxy's signed ballot for a resident, as a relayer submits it.
    /// @param voter The resident the ballot counts for.
    /// @param proxy The resident's proxy, who signed.
    struct SignedProxyBallot {
        address voter;
        address proxy;
        uint8 option;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Everything known about a proposal.
    struct ProposalView {
        uint256 communityId;
        address proposer;
        bytes32 textHash;
        BallotKind kind;
        uint8 optionCount;
        uint64 opensAt;
        uint64 closesAt;
        uint16 quorumBps;
        uint16 thresholdBps;
        uint128 budgetAmount;
        bytes3 budgetCurrency;
        uint32 rollVersion;
        uint32 rollSize;
        ProposalState state;
        Outcome outcome;
        uint8 winningOption;
        uint256[] tally;
        ExecutionStatus execution;
        uint256 milestoneCount;
    }

    // ---------------------------------------------------------------- events

    /// @notice A proposal was opened; its roll snapshot is `rollVersion` with `rollSize` residents.
    event ProposalOpened(
        uint256 indexed proposalId,
        uint256 indexed communityId,
        address indexed proposer,
        ProposalParams params,
        uint32 rollVersion,
        uint32 rollSize
    );

    /// @notice A ballot was counted.
    /// @param digest The EIP-712 digest of Ballot(proposalId, voter, option) under this contract's
    /// domain: what the voter signed (or would have signed, for a direct vote).
    event BallotCast(uint256 indexed proposalId, address indexed voter, uint8 option, bytes32 digest);

    /// @notice A relayed ballot was not counted, for `reason`; the rest of its batch went on.
    /// @dev Anyone may relay anything, so anyone can make this event name any `voter`: a ballot
    /// naming them with a signature that is not theirs (BadSignature), or a valid ballot of theirs
    /// replayed (AlreadyVoted). A skip proves only that someone submitted a ballot naming `voter`
    /// that was not counted; it is not evidence that the voter signed, sent or attempted anything,
    /// and it changes nothing: the voter has not voted (`hasVoted` stays false), may still vote,
    /// and turnout and tallies count only {BallotCast}. Indexers and auditors must not treat it
    /// as the voter's act (the audit counts skips per proposal only).
    event BallotSkipped(uint256 indexed proposalId, address indexed voter, SkipReason reason);

    /// @notice A proxy ballot was counted for `voter`.
    /// @param digest The EIP-712 digest of ProxyBallot(proposalId, voter, proxy, option) the proxy signed.
    event ProxyBallotCast(
        uint256 indexed proposalId, address indexed voter, address indexed proxy, uint8 option, bytes32 digest
    );

    /// @notice `voter`'s own ballot took the place of the proxy ballot `proxy` cast for them on
    /// `proxyOption`: the tally lost that ballot; the {BallotCast} that follows adds the voter's own.
    event ProxyBallotOverridden(
        uint256 indexed proposalId, address indexed voter, address indexed proxy, uint8 proxyOption
    );

    /// @notice A relayed proxy ballot was not counted, for `reason`; the rest of its batch went on.
    /// Like {BallotSkipped}, it proves nothing about the voter or the proxy and changes nothing.
    event ProxyBallotSkipped(
        uint256 indexed proposalId, address indexed voter, address indexed proxy, ProxyBallotSkipReason reason
    );

    /// @notice A proposal was finalized with its on-chain tally.
    /// @param tally Ballots per option.
    /// @param turnout Sum of the tally.
    /// @param winningOption Passed: the winning option (0 = yes for YesNoAbstain); else NO_WINNER.
    event ProposalFinalized(
        uint256 indexed proposalId, Outcome outcome, uint256[] tally, uint256 turnout, uint8 winningOption
    );

    /// @notice A committee member recorded execution progress of a passed proposal.
    /// @param milestoneIndex 0-based position of this milestone.
    /// @param evidenceHash Hash of the evidence (report, photos, invoice) kept off-chain.
    /// @param status The execution status after this milestone.
    event MilestoneRecorded(
        uint256 indexed proposalId,
        uint256 indexed milestoneIndex,
        bytes32 evidenceHash,
        ExecutionStatus status,
        address recorder
    );

    /// @notice The committee member `linker` of `communityId` linked secret vote `voteId` to
    /// `proposalId`: the proposal's outcome will follow that vote's tally.
    event SecretVoteLinked(
        uint256 indexed proposalId, uint256 indexed voteId, uint256 indexed communityId, address linker
    );

    // ---------------------------------------------------------------- errors

    /// @notice No proposal has id `proposalId`.
    error UnknownProposal(uint256 proposalId);

    /// @notice Only a committee member of `communityId` may do this; `account` is not one.
    error NotCommittee(uint256 communityId, address account);

    /// @notice `optionCount` does not fit `kind` (3 for YesNoAbstain, 2..MAX_OPTIONS otherwise).
    error InvalidOptions(BallotKind kind, uint8 optionCount);

    /// @notice Needs opensAt < closesAt, now < closesAt <= now + ROLL_SNAPSHOT_LIFETIME.
    error InvalidSchedule(uint64 opensAt, uint64 closesAt, uint256 now);

    /// @notice quorumBps must be <= 10000; thresholdBps < 10000 (and >= 5000 for YesNoAbstain).
    error InvalidBasisPoints(uint16 quorumBps, uint16 thresholdBps);

    /// @notice A budget needs a currency code of three upper-case ASCII letters A-Z (ISO 4217, the
    /// rule CommunityFund applies to its currency: libraries/CurrencyCode.sol).
    error InvalidBudget(uint128 amount, bytes3 currency);

    /// @notice A proposal needs the hash of its text.
    error MissingTextHash();

    /// @notice The community's published roll is empty: nobody could vote.
    error EmptyRoll(uint256 communityId);

    /// @notice Ballots are accepted only while the proposal is Open; it is `state`.
    error ProposalNotOpen(uint256 proposalId, ProposalState state);

    /// @notice `option` is not below the proposal's `optionCount`.
    error InvalidOption(uint256 proposalId, uint8 option, uint8 optionCount);

    /// @notice `voter` was not on the roll at the proposal's snapshot `rollVersion`.
    error VoterNotOnRoll(uint256 proposalId, address voter, uint32 rollVersion);

    /// @notice `voter` already has a ballot counted on `proposalId`.
    error AlreadyVoted(uint256 proposalId, address voter);

    /// @notice Finalizing must wait until `closesAt`.
    error VotingNotClosed(uint256 proposalId, uint64 closesAt);

    /// @notice The proposal was already finalized with `outcome`.
    error AlreadyFinalized(uint256 proposalId, Outcome outcome);

    /// @notice Execution is tracked only for proposals finalized as Passed; this one is `outcome`.
    error ProposalNotPassed(uint256 proposalId, Outcome outcome);

    /// @notice The proposal's execution was already marked Completed.
    error ExecutionAlreadyCompleted(uint256 proposalId);

    /// @notice A milestone needs the hash of its evidence.
    error MissingEvidence();

    /// @notice Proposal ids are limited to 32 bits (they tag ballot-box words).
    error TooManyProposals();

    /// @notice `proposalId` is decided by secret ballot: it takes no open ballot.
    error BallotsAreSecret(uint256 proposalId);

    /// @notice Only a secret proposal links a secret vote; `proposalId` is of kind `kind`.
    error NotSecretProposal(uint256 proposalId, BallotKind kind);

    /// @notice A secret vote is linked only before the proposal opens at `opensAt`.
    error ProposalAlreadyOpened(uint256 proposalId, uint64 opensAt);

    /// @notice `proposalId` is already decided by secret vote `voteId`.
    error SecretVoteAlreadyLinked(uint256 proposalId, uint256 voteId);

    /// @notice Secret vote `voteId` already decides proposal `proposalId`.
    error SecretVoteTaken(uint256 voteId, uint256 proposalId);

    /// @notice Secret vote `voteId` does not match `proposalId` in `field`.
    error SecretVoteMismatch(uint256 proposalId, uint256 voteId, SecretLinkField field);

    /// @notice `proposalId`'s secret vote `voteId` has no tally yet: it is `state`.
    error SecretTallyPending(uint256 proposalId, uint256 voteId, ISecretBallot.SecretVoteState state);

    /// @notice `proposalId` is closed and its ballot box now serves a later proposal: who voted
    /// on it is in its {BallotCast} events (and its tally is unaffected).
    error BallotBoxRecycled(uint256 proposalId);

    // ---------------------------------------------------------------- actions

    /// @notice Opens a proposal and snapshots the community's published roll. Committee only, or
    /// the Initiatives contract fixed at deployment, opening what a reached initiative becomes
    /// (then it is the `proposer`).
    /// @return proposalId Sequential id, from 1.
    function openProposal(ProposalParams calldata params) external returns (uint256 proposalId);

    /// @notice Casts the caller's own ballot (the caller may be relayed through the forwarder).
    /// Reverts with the broken rule's error.
    function castVote(uint256 proposalId, uint8 option) external;

    /// @notice Counts many signed ballots on one proposal; anyone may relay them.
    /// @dev A ballot breaking a rule emits {BallotSkipped} and the batch goes on.
    /// @return counted How many ballots were counted.
    function castBallots(uint256 proposalId, SignedBallot[] calldata ballots) external returns (uint256 counted);

    /// @notice Counts many proxy ballots on one proposal; anyone may relay them.
    /// @dev For each, in this order: option in range, low-s signature by `proxy`, voter and proxy on
    /// the roll at the snapshot, the voter's live mandate naming `proxy` for this proposal (or for
    /// every vote), the voter not yet voted (themself or by proxy), fewer than the community's proxy
    /// limit of proxy ballots by `proxy` on this proposal; else {ProxyBallotSkipped} and the batch
    /// goes on.
    /// @return counted How many proxy ballots were counted.
    function castProxyBallots(uint256 proposalId, SignedProxyBallot[] calldata ballots)
        external
        returns (uint256 counted);

    /// @notice Links secret vote `voteId` to the secret proposal `proposalId`, before it opens.
    /// Committee of the proposal's community only. See {SecretLinkField} for what must match.
    function linkSecretVote(uint256 proposalId, uint256 voteId) external;

    /// @notice Finalizes a closed proposal: Passed, Rejected or NoQuorum. Anyone may call.
    /// @dev A secret proposal is decided on its secret vote's finalized tally (reverts with
    /// {SecretTallyPending} before it). With no vote linked, or a vote whose key generation failed,
    /// nobody could vote: it is decided on an empty tally. A vote still without its tally
    /// SECRET_TALLY_GRACE after its challenge window closed (trustees who never decrypted) leaves
    /// the proposal TallyNeverPublished, with an empty tally, so that withholding the tally cannot
    /// keep it open for ever; a tally proven later does not change it.
    function finalize(uint256 proposalId) external returns (Outcome outcome);

    /// @notice Records an execution milestone of a passed proposal. Committee only.
    /// @param evidenceHash Hash of the evidence kept off-chain.
    /// @param completed Whether this milestone completes the execution (no more may follow).
    /// @return milestoneIndex 0-based position of the milestone.
    function recordMilestone(uint256 proposalId, bytes32 evidenceHash, bool completed)
        external
        returns (uint256 milestoneIndex);

    // ---------------------------------------------------------------- views

    /// @notice The most options a proposal may have (tallies are packed, 32 bits each, in one word).
    function MAX_OPTIONS() external view returns (uint8);

    /// @notice How long after its secret vote's challenge window a secret proposal waits for the
    /// vote's tally before anyone may finalize it as TallyNeverPublished.
    function SECRET_TALLY_GRACE() external view returns (uint256);

    /// @notice `winningOption` of a proposal that did not pass (255).
    function NO_WINNER() external view returns (uint8);

    /// @notice keccak256("Ballot(uint256 proposalId,address voter,uint8 option)").
    function BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256("ProxyBallot(uint256 proposalId,address voter,address proxy,uint8 option)").
    function PROXY_BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls and roles this council uses.
    function registry() external view returns (address);

    /// @notice The Mandates contract proxy ballots are checked against.
    function mandates() external view returns (address);

    /// @notice The SecretBallot contract secret proposals are decided by.
    function secretBallot() external view returns (address);

    /// @notice The secret vote linked to `proposalId` (0: none).
    function secretVoteOf(uint256 proposalId) external view returns (uint256 voteId);

    /// @notice The proposal secret vote `voteId` decides (0: none).
    function proposalOfSecretVote(uint256 voteId) external view returns (uint256 proposalId);

    /// @notice The number of proposals opened so far (ids are 1..proposalCount).
    function proposalCount() external view returns (uint256);

    /// @notice Everything known about `proposalId`.
    function getProposal(uint256 proposalId) external view returns (ProposalView memory);

    /// @notice The state of `proposalId`.
    function state(uint256 proposalId) external view returns (ProposalState);

    /// @notice Ballots per option counted so far on `proposalId`.
    function tallyOf(uint256 proposalId) external view returns (uint256[] memory tally);

    /// @notice Whether `voter` has a ballot counted on `proposalId`.
    /// @dev Reverts with {BallotBoxRecycled} once a closed proposal's ballot box was reused.
    function hasVoted(uint256 proposalId, address voter) external view returns (bool);

    /// @notice How many ballots in `proposalId`'s tally were cast by proxy (overridden ones not).
    function proxyBallotCount(uint256 proposalId) external view returns (uint256);

    /// @notice The proxy ballot counted for `voter` on `proposalId`, if any.
    /// @return proxy Who cast it (address(0): none).
    /// @return option Its option.
    /// @return overridden Whether the voter's own ballot has since taken its place.
    function proxyBallotOf(uint256 proposalId, address voter)
        external
        view
        returns (address proxy, uint8 option, bool overridden);

    /// @notice The EIP-712 digest a proxy signs for this ballot.
    function proxyBallotDigest(uint256 proposalId, address voter, address proxy, uint8 option)
        external
        view
        returns (bytes32);

    /// @notice The evidence hashes of `proposalId`'s milestones, in order.
    function milestones(uint256 proposalId) external view returns (bytes32[] memory);

    /// @notice The EIP-712 digest a voter signs for this ballot.
    function ballotDigest(uint256 proposalId, address voter, uint8 option) external view returns (bytes32);

    /// @notice The budget a proposal requested and whether it was finalized as Passed. Never reverts.
    /// @return communityId The proposal's community (0 if there is no such proposal).
    /// @return passed True only once the proposal has been finalized with outcome Passed.
    /// @return amount The requested budget in integer minor units (0 if none was requested).
    /// @return currency The budget's ISO 4217 currency code, e.g. "CNY".
    function budgetOf(uint256 proposalId)
        external
        view
        returns (uint256 communityId, bool passed, uint256 amount, bytes3 currency);
}
