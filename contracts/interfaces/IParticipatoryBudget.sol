// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IParticipatoryBudget
/// @notice Participatory budgeting rounds of a community: the committee opens a round with a
/// budget, residents submit projects, residents vote with signed ballots relayed in batches,
/// anyone runs the selection on-chain once voting closes, and every selected project gets a
/// grant in the CommunityFund for its cost, paid out by the fund's existing N-of-M path.
/// @dev Rules, each enforced here and re-checked by the audit:
///
/// Round. A committee member of the community opens it (directly or through the forwarder) with
/// a budget in minor units of a currency that must be the community fund's currency, a
/// submission window, a voting window (submissionOpensAt < submissionClosesAt <= votingOpensAt
/// < votingClosesAt, now < submissionClosesAt, votingClosesAt <= now + ROLL_SNAPSHOT_LIFETIME),
/// a ballot rule and limits 1 <= minProjects <= maxProjects <= MAX_PROJECTS. Its residents are
/// the community's roll as published when the round was opened (version and size snapshotted
/// as Council and Elections do); later roll changes do not affect the round.
///
/// Projects. At most MAX_PROJECTS = 256 per round, indexed 0, 1, ... in submission order. Why
/// 256: a ballot is then one uint256 bitmap (bit i = project i), one word with no length field,
/// whose count of set bits and iteration are cheap, and the ineligible and selected sets are one
/// word each. A project is submitted by a resident on the round's roll during the submission
/// window with {submitProject}, which reads the sender through ERC-2771: residents sign a
/// forward request and the relay pays the gas (gasless, replay-protected by the forwarder's
/// nonce and deadline, refused with a named error), or they send it directly. Projects are few
/// (at most 256 a round), so one transaction each costs little and needs no batch. A project
/// costs more than 0 and at most the round's budget and carries the keccak256 of its text.
/// Before voting opens, a committee member may mark a project ineligible, only with the hash of
/// the reason, on-chain and visible ({BudgetProjectMarkedIneligible}); it cannot be undone.
///
/// Ballots. One per resident, EIP-712 `BudgetBallot(uint256 roundId,address voter,uint256 projects)`
/// under the domain ("CommonsBudget", "1", chain id, this contract), signed in the EIP-2098
/// compact form and relayed in batches by anyone with {castBudgetBallots}. `projects` is the
/// bitmap of chosen projects, the same encoding under both rules. A ballot that breaks a rule is
/// skipped with {BudgetBallotSkipped} and the batch goes on; the first rule broken is reported,
/// checked in this order (the Council's order for the first five):
///   VotingNotOpen (outside [votingOpensAt, votingClosesAt)), MalleableSignature (s in the upper
///   half), BadSignature (the signer is not `voter`), NotOnRoll (not on the roll at the round's
///   snapshot), AlreadyVoted, UnknownProject (a bit at or above the project count),
///   IneligibleProject, TooFewProjects (fewer than minProjects bits), TooManyProjects (more than
///   maxProjects bits), OverBudget (Knapsack only: the chosen projects' costs add up to more than
///   the budget).
/// Rules: Knapsack, a resident picks projects whose total cost is within the budget (and within
/// the limits); KApproval, a resident picks up to k = maxProjects projects (at least minProjects).
/// Every counted ballot emits {BudgetBallotCast} and adds one vote to each project it names.
///
/// Selection. Once voting has closed, anyone calls {selectProjects}, once, in one transaction
/// (bounded: 256 projects, all selected, take 8,634,443 gas, under 16,777,216;
/// bench/gas_budget.py). The selection's budget is min(round budget, the fund's `available` at
/// that moment): the grants are reserved in the same transaction, so the fund always covers what
/// is selected and the round can never be blocked by the fund. Eligible projects with at least one vote are walked in
/// order of votes descending; ties go to the lower cost, then to the lower index. With
/// `remaining = selection budget`, a project is selected iff cost <= remaining (then
/// remaining -= cost); a project that does not fit is passed over and the walk goes on to the
/// next (a cheaper one may still fit). Projects with zero votes and ineligible projects are not
/// walked and never selected. Each walked project emits {BudgetProjectSelected} or
/// {BudgetProjectPassedOver} with its votes, cost and the remaining budget after it, in walk
/// order; {BudgetRoundSelected} closes the selection, and the grants are then opened in walk order.
///
/// Grants. Each selected project gets a grant in the CommunityFund for exactly its cost, opened
/// by this contract (the only caller the fund accepts for {ICommunityFund-openBudgetGrants}) under
/// the grant id `grantIdOf(roundId, index) = 2**255 | roundId << 8 | index`, disjoint from council
/// proposal ids. Payouts then follow the fund's N-of-M path with that id as `proposalId`, and
/// the committee records the project's execution milestones with {recordProjectMilestone}.
interface IParticipatoryBudget {
    // ---------------------------------------------------------------- types

    /// @notice How ballots are judged.
    /// @dev Knapsack: the chosen projects' total cost is at most the budget. KApproval: at most
    /// maxProjects (k) projects, no cost check. Both also need minProjects..maxProjects bits.
    enum BudgetRule {
        Knapsack,
        KApproval
    }

    /// @notice Where a round is in its life (derived from time and the selection).
    /// @dev Review: between the submission window's close and voting's opening (may be empty).
    /// Closed: voting has closed and the selection has not run.
    enum BudgetRoundState {
        Pending,
        Submission,
        Review,
        Voting,
        Closed,
        Selected
    }

    /// @notice Why a relayed budget ballot was not counted (checked in this order).
    enum BudgetSkipReason {
        VotingNotOpen,
        MalleableSignature,
        BadSignature,
        NotOnRoll,
        AlreadyVoted,
        UnknownProject,
        IneligibleProject,
        TooFewProjects,
        TooManyProjects,
        OverBudget
    }

    /// @notice What a committee member gives to open a round.
    /// @param communityId The community whose roll submits and votes.
    /// @param textHash keccak256 of the round's description (kept off-chain).
    /// @param budget The amount to distribute, in integer minor units, 1..2**96 - 1.
    /// @param currency ISO 4217 code, three upper-case letters; must be the fund's currency.
    /// @param rule Knapsack or KApproval.
    /// @param minProjects The fewest projects a ballot may choose (>= 1).
    /// @param maxProjects The most projects a ballot may choose (KApproval: k), <= MAX_PROJECTS.
    /// @param submissionOpensAt Unix time projects are accepted from (may be in the past).
    /// @param submissionClosesAt Unix time projects stop being accepted.
    /// @param votingOpensAt Unix time ballots are accepted from (>= submissionClosesAt).
    /// @param votingClosesAt Unix time ballots stop being accepted and selection may run.
    struct BudgetRoundParams {
        uint256 communityId;
        bytes32 textHash;
        uint128 budget;
        bytes3 currency;
        BudgetRule rule;
        uint16 minProjects;
        uint16 maxProjects;
        uint64 submissionOpensAt;
        uint64 submissionClosesAt;
        uint64 votingOpensAt;
        uint64 votingClosesAt;
    }

    /// @notice A resident's signed ballot as a relayer submits it.
    /// @param voter The resident who signed (must equal the recovered signer).
    /// @param projects Bitmap of the chosen projects (bit i = project i).
    /// @param r Signature r.
    /// @param vs Signature s with v's parity in the top bit (EIP-2098 compact form).
    struct SignedBudgetBallot {
        address voter;
        uint256 projects;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Everything known about a round.
    /// @param ineligible Bitmap of projects marked ineligible.
    /// @param selected Bitmap of selected projects (0 before the selection).
    /// @param selectionBudget min(budget, fund available) as read by the selection (0 before it).
    /// @param spent Sum of the selected projects' costs (0 before the selection).
    struct BudgetRoundView {
        uint256 communityId;
        address opener;
        bytes32 textHash;
        uint128 budget;
        bytes3 currency;
        BudgetRule rule;
        uint16 minProjects;
        uint16 maxProjects;
        uint64 submissionOpensAt;
        uint64 submissionClosesAt;
        uint64 votingOpensAt;
        uint64 votingClosesAt;
        uint32 rollVersion;
        uint32 rollSize;
        BudgetRoundState state;
        uint256 projectCount;
        uint256 ballotCount;
        uint256 ineligible;
        uint256 selected;
        uint128 selectionBudget;
        uint128 spent;
    }

    /// @notice One project of a round.
    /// @param ineligibleReason Hash of the reason it was marked ineligible (zero if eligible).
    /// @param milestoneCount Execution milestones recorded (selected projects only).
    /// @param completed Whether a milestone recorded the execution as completed.
    struct BudgetProjectView {
        address proposer;
        bytes32 textHash;
        uint128 cost;
        uint256 votes;
        bytes32 ineligibleReason;
        bool selected;
        uint256 milestoneCount;
        bool completed;
    }

    // ---------------------------------------------------------------- events

    /// @notice A round was opened; its roll snapshot is `rollVersion` with `rollSize` residents.
    event BudgetRoundOpened(
        uint256 indexed roundId,
        uint256 indexed communityId,
        address indexed opener,
        BudgetRoundParams params,
        uint32 rollVersion,
        uint32 rollSize
    );

    /// @notice `proposer` submitted project `index` (0-based, submission order) of `roundId`.
    event BudgetProjectSubmitted(
        uint256 indexed roundId, uint256 index, address indexed proposer, bytes32 textHash, uint128 cost
    );

    /// @notice A committee member marked project `index` ineligible for the reason hashed in `reasonHash`.
    event BudgetProjectMarkedIneligible(
        uint256 indexed roundId, uint256 index, bytes32 reasonHash, address indexed markedBy
    );

    /// @notice A ballot was counted: one vote for each project in `projects`.
    event BudgetBallotCast(uint256 indexed roundId, address indexed voter, uint256 projects);

    /// @notice A relayed ballot was not counted, for `reason`; the rest of its batch went on.
    /// @dev As with the council's skips, anyone can make this name any `voter` (a signature that
    /// is not theirs, a replay of a counted ballot): it is not the voter's act, and it changes
    /// nothing.
    event BudgetBallotSkipped(uint256 indexed roundId, address indexed voter, BudgetSkipReason reason);

    /// @notice The selection took project `index`; `remaining` is the budget left after it.
    event BudgetProjectSelected(uint256 indexed roundId, uint256 index, uint256 votes, uint128 cost, uint128 remaining);

    /// @notice The selection passed over project `index`: its cost is more than `remaining`, the
    /// budget left when its turn came (unchanged by it); the walk went on.
    event BudgetProjectPassedOver(
        uint256 indexed roundId, uint256 index, uint256 votes, uint128 cost, uint128 remaining
    );

    /// @notice The selection finished: `selected` is the bitmap of selected projects, their grants
    /// are open; `selectionBudget` = min(budget, fund available), of which `spent` was granted.
    event BudgetRoundSelected(uint256 indexed roundId, uint256 selected, uint128 selectionBudget, uint128 spent);

    /// @notice A committee member recorded an execution milestone of selected project `index`.
    /// @param milestoneIndex 0-based position of this milestone.
    /// @param completed Whether this milestone completes the execution (no more may follow).
    event BudgetProjectMilestoneRecorded(
        uint256 indexed roundId,
        uint256 index,
        uint256 milestoneIndex,
        bytes32 evidenceHash,
        bool completed,
        address indexed recordedBy
    );

    // ---------------------------------------------------------------- errors

    /// @notice No round has id `roundId`.
    error UnknownBudgetRound(uint256 roundId);

    /// @notice Only a committee member of `communityId` may do this; `account` is not one.
    error NotCommittee(uint256 communityId, address account);

    /// @notice A budget must be 1..2**96 - 1 minor units in a three upper-case letter currency.
    error InvalidBudget(uint128 amount, bytes3 currency);

    /// @notice The community fund has no currency yet: a round's budget must be in it.
    error CurrencyNotSet(uint256 communityId);

    /// @notice Every amount of a fund is in its one currency: the round's must be the fund's.
    error CurrencyMismatch(uint256 communityId, bytes3 expected, bytes3 given);

    /// @notice Needs 1 <= minProjects <= maxProjects <= MAX_PROJECTS.
    error InvalidProjectLimits(uint16 minProjects, uint16 maxProjects);

    /// @notice Needs submissionOpensAt < submissionClosesAt <= votingOpensAt < votingClosesAt,
    /// now < submissionClosesAt and votingClosesAt <= now + ROLL_SNAPSHOT_LIFETIME.
    error InvalidRoundSchedule(
        uint64 submissionOpensAt, uint64 submissionClosesAt, uint64 votingOpensAt, uint64 votingClosesAt, uint256 now
    );

    /// @notice The community's published roll is empty: nobody could submit or vote.
    error EmptyRoll(uint256 communityId);

    /// @notice A text (or description) needs its hash.
    error MissingTextHash();

    /// @notice Projects are accepted only in [opensAt, closesAt).
    error SubmissionNotOpen(uint256 roundId, uint64 opensAt, uint64 closesAt);

    /// @notice Only a resident on the round's roll snapshot may submit a project.
    error ProposerNotOnRoll(uint256 roundId, address account);

    /// @notice A project's cost must be 1..budget.
    error InvalidProjectCost(uint256 roundId, uint128 cost, uint128 budget);

    /// @notice The round already has MAX_PROJECTS projects.
    error RoundFull(uint256 roundId);

    /// @notice Round `roundId` has no project `index`.
    error UnknownBudgetProject(uint256 roundId, uint256 index);

    /// @notice Marking a project ineligible needs the hash of the reason.
    error MissingReasonHash();

    /// @notice Project `index` is already marked ineligible.
    error ProjectAlreadyIneligible(uint256 roundId, uint256 index);

    /// @notice Eligibility is fixed once voting opens, at `votingOpensAt`: ballots are judged on it.
    error EligibilityFrozen(uint256 roundId, uint64 votingOpensAt);

    /// @notice The selection may run only once voting closes, at `votingClosesAt`.
    error RoundVotingNotClosed(uint256 roundId, uint64 votingClosesAt);

    /// @notice The round's selection has already run.
    error RoundAlreadySelected(uint256 roundId);

    /// @notice Milestones are recorded only for selected projects.
    error ProjectNotSelected(uint256 roundId, uint256 index);

    /// @notice A milestone needs the hash of its evidence.
    error MissingEvidence();

    /// @notice The project's execution was recorded as completed: no more milestones.
    error ProjectAlreadyCompleted(uint256 roundId, uint256 index);

    // ---------------------------------------------------------------- actions

    /// @notice Opens a round and snapshots the community's published roll. Committee only (the
    /// committee member may be relayed through the forwarder).
    /// @dev The opener also pays to prepare the round's ballot box: one storage word per 255
    /// residents of the roll, up to 64 words (~22,100 gas each), so that the residents' relayed
    /// ballots never pay for a first write (bench/results/gas_budget.md).
    /// @return roundId Sequential id, from 1.
    function openBudgetRound(BudgetRoundParams calldata params) external returns (uint256 roundId);

    /// @notice Submits a project to `roundId` as the sender (ERC-2771: relayed through the
    /// forwarder, or sent directly). The sender must be on the round's roll snapshot, during the
    /// submission window; 0 < cost <= budget; at most MAX_PROJECTS projects a round.
    /// @return index The project's 0-based index (its ballot bit).
    function submitProject(uint256 roundId, bytes32 textHash, uint128 cost) external returns (uint256 index);

    /// @notice Marks project `index` ineligible for the reason hashed in `reasonHash`. Committee
    /// only, before voting opens; final.
    function markIneligible(uint256 roundId, uint256 index, bytes32 reasonHash) external;

    /// @notice Counts many signed ballots on one round; anyone may relay them.
    /// @dev A ballot breaking a rule emits {BudgetBallotSkipped} with the first rule broken, in the
    /// order stated above, and the batch goes on.
    /// @return counted How many ballots were counted.
    function castBudgetBallots(uint256 roundId, SignedBudgetBallot[] calldata ballots)
        external
        returns (uint256 counted);

    /// @notice Runs the selection of a round whose voting has closed, and opens a grant in the
    /// CommunityFund for each selected project. Anyone, once.
    /// @return selected Bitmap of the selected projects.
    function selectProjects(uint256 roundId) external returns (uint256 selected);

    /// @notice Records an execution milestone of selected project `index`. Committee only.
    /// @param evidenceHash Hash of the evidence (report, photos, invoice set).
    /// @param completed Whether this milestone completes the execution (no more may follow).
    /// @return milestoneIndex 0-based position of the milestone.
    function recordProjectMilestone(uint256 roundId, uint256 index, bytes32 evidenceHash, bool completed)
        external
        returns (uint256 milestoneIndex);

    // ---------------------------------------------------------------- views

    /// @notice The most projects a round may have (256: one bitmap word).
    function MAX_PROJECTS() external view returns (uint16);

    /// @notice keccak256("BudgetBallot(uint256 roundId,address voter,uint256 projects)").
    function BALLOT_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The Registry whose rolls and roles rounds use.
    function registry() external view returns (address);

    /// @notice The CommunityFund where selected projects' grants are opened.
    function fund() external view returns (address);

    /// @notice The number of rounds opened so far (ids are 1..roundCount).
    function roundCount() external view returns (uint256);

    /// @notice Everything known about `roundId`.
    function getRound(uint256 roundId) external view returns (BudgetRoundView memory);

    /// @notice The state of `roundId`.
    function state(uint256 roundId) external view returns (BudgetRoundState);

    /// @notice Project `index` of `roundId`.
    function getProject(uint256 roundId, uint256 index) external view returns (BudgetProjectView memory);

    /// @notice Every project of `roundId`, in index order.
    function projects(uint256 roundId) external view returns (BudgetProjectView[] memory);

    /// @notice Whether `voter` has a ballot counted on `roundId`.
    function hasVoted(uint256 roundId, address voter) external view returns (bool);

    /// @notice The evidence hashes of project `index`'s milestones, in order.
    function projectMilestones(uint256 roundId, uint256 index) external view returns (bytes32[] memory);

    /// @notice The CommunityFund grant id of project `index` of `roundId`: 2**255 | roundId << 8 | index.
    function grantIdOf(uint256 roundId, uint256 index) external pure returns (uint256);

    /// @notice The EIP-712 digest a voter signs for the ballot choosing the projects in `chosen`.
    function ballotDigest(uint256 roundId, address voter, uint256 chosen) external view returns (bytes32);
}
