// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ICommunityFund} from "./interfaces/ICommunityFund.sol";
import {IParticipatoryBudget} from "./interfaces/IParticipatoryBudget.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {CurrencyCode} from "./libraries/CurrencyCode.sol";
import {ROLL_SNAPSHOT_LIFETIME} from "./libraries/RollRecord.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title ParticipatoryBudget
/// @notice Participatory budgeting rounds of Commons Ledger communities: projects submitted by
/// residents, signed ballots relayed in batches, the selection run on-chain by anyone, and a
/// CommunityFund grant opened for each selected project. See IParticipatoryBudget for the rules.
/// @dev Gas layout: what a ballot needs sits in one round word; double votes are caught by the
/// round's ballot box (a bitmap keyed by the resident's stable roll index); eligibility for a
/// whole batch is one call into the Registry; project costs are read into memory once a batch
/// and votes are added to packed tallies (32 bits a project) in memory, written once a batch.
/// Measured in bench/gas_budget.py.
contract ParticipatoryBudget is IParticipatoryBudget, EIP712, ERC2771Context {
    /// @inheritdoc IParticipatoryBudget
    uint16 public constant MAX_PROJECTS = 256;
    /// @inheritdoc IParticipatoryBudget
    bytes32 public constant BALLOT_TYPEHASH = keccak256("BudgetBallot(uint256 roundId,address voter,uint256 projects)");

    bytes32 private constant COMMITTEE = keccak256("COMMITTEE");
    uint256 private constant MAX_BUDGET = type(uint96).max;
    uint256 private constant GRANT_ID_FLAG = 1 << 255;
    /// @dev Roll indexes a ballot-box word holds, and the bit that primes it.
    uint256 private constant BOX_BITS = 255;
    uint256 private constant BOX_PRIMED = 1 << 255;
    /// @dev Words primed when a round opens, at most (16,320 residents; 1.4M gas for the opener).
    uint256 private constant BOX_PRIMED_WORDS_MAX = 64;
    /// @dev Scratch memory of a ballot batch before its tallies (see {_batchContext}).
    uint256 private constant CTX_TALLIES = 0x2c0;
    /// @dev Tally words: 8 projects of 32 bits each.
    uint256 private constant TALLY_WORDS = 32;
    /// @dev Scratch memory of a ballot batch after its tallies: the project costs.
    uint256 private constant CTX_COSTS = CTX_TALLIES + TALLY_WORDS * 0x20;

    /// @dev Laid out by word: a ballot batch reads words 0-2 and writes word 1's ballot count.
    struct Round {
        // word 0: all a ballot needs
        uint64 communityId;
        uint32 rollVersion;
        uint32 rollSize;
        uint40 votingOpensAt;
        uint40 votingClosesAt;
        uint16 minProjects;
        uint16 maxProjects;
        BudgetRule rule;
        bool selectionDone;
        // word 1
        uint96 budget;
        uint32 ballotCount;
        uint16 projectCount;
        uint40 submissionOpensAt;
        uint40 submissionClosesAt;
        bytes3 currency;
        // word 2
        uint256 ineligible;
        // word 3
        uint256 selected;
        // word 4: the selection writes its budget into a word already written (what it spent is
        // the sum of the selected costs, for views to add up)
        address opener;
        uint96 selectionBudget;
        // word 5: completed projects' execution
        uint256 completed;
        // word 6
        bytes32 textHash;
    }

    struct Project {
        address proposer;
        bytes32 textHash;
        bytes32 ineligibleReason;
    }

    IRegistry private immutable _registry;
    ICommunityFund private immutable _fund;
    uint256 private _roundCount;
    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint256 roundId => mapping(uint256 index => Project)) private _projects;
    /// @dev Project costs, two a word: project i in bits `(i % 2) * 128` of word `i / 2`.
    mapping(uint256 roundId => mapping(uint256 word => uint256)) private _costs;
    /// @dev Votes, eight projects a word: project i in bits `(i % 8) * 32` of word `i / 8`.
    mapping(uint256 roundId => mapping(uint256 word => uint256)) private _votes;
    /// @dev Who voted: bit `i % 255` of word `i / 255` for roll index `i`; bit 255 of each of the
    /// first words is set when the round opens (primed), so that the voters' batches change
    /// non-zero words: a round's first ballot batch costs what the later ones do (a zero word's
    /// first write is 22,100 gas; a first batch of 100 from a 10,000-resident roll wrote ~37,
    /// +6,500 gas a ballot: bench/results/gas_budget.md).
    mapping(uint256 roundId => mapping(uint256 word => uint256)) private _boxes;
    mapping(uint256 roundId => mapping(uint256 index => bytes32[])) private _milestones;

    /// @notice Wires the budget to its forwarder, to the Registry it reads rolls and roles from and
    /// to the CommunityFund where selected projects get their grants.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    /// @param registry_ The Registry holding communities, roles and rolls.
    /// @param fund_ The CommunityFund that trusts this contract to open budget grants.
    constructor(address trustedForwarder, address registry_, address fund_)
        EIP712("CommonsBudget", "1")
        ERC2771Context(trustedForwarder)
    {
        _registry = IRegistry(registry_);
        _fund = ICommunityFund(fund_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IParticipatoryBudget
    function openBudgetRound(BudgetRoundParams calldata params) external returns (uint256 roundId) {
        address opener = _msgSender();
        uint256 communityId = params.communityId;
        if (!_registry.hasRole(communityId, COMMITTEE, opener)) revert NotCommittee(communityId, opener);
        _checkParams(params);
        (uint32 rollVersion, uint32 rollSize) = _registry.rollSnapshot(communityId);
        if (rollSize == 0) revert EmptyRoll(communityId);

        roundId = ++_roundCount;
        Round storage r = _rounds[roundId];
        // A committee member exists, so the community does, so its id is below the Registry's count.
        r.communityId = uint64(communityId);
        r.rollVersion = rollVersion;
        r.rollSize = rollSize;
        r.votingOpensAt = uint40(params.votingOpensAt);
        r.votingClosesAt = uint40(params.votingClosesAt);
        r.minProjects = params.minProjects;
        r.maxProjects = params.maxProjects;
        r.rule = params.rule;
        r.budget = uint96(params.budget);
        r.submissionOpensAt = uint40(params.submissionOpensAt);
        r.submissionClosesAt = uint40(params.submissionClosesAt);
        r.currency = params.currency;
        r.opener = opener;
        r.textHash = params.textHash;
        _primeBox(_boxes[roundId], rollSize);
        emit BudgetRoundOpened(roundId, communityId, opener, params, rollVersion, rollSize);
    }

    /// @inheritdoc IParticipatoryBudget
    function submitProject(uint256 roundId, bytes32 textHash, uint128 cost) external returns (uint256 index) {
        address proposer = _msgSender();
        Round storage r = _existing(roundId);
        if (block.timestamp < r.submissionOpensAt || block.timestamp >= r.submissionClosesAt) {
            revert SubmissionNotOpen(roundId, r.submissionOpensAt, r.submissionClosesAt);
        }
        if (_registry.rollIndexAt(r.communityId, r.rollVersion, proposer) == 0) {
            revert ProposerNotOnRoll(roundId, proposer);
        }
        if (textHash == bytes32(0)) revert MissingTextHash();
        if (cost == 0 || cost > r.budget) revert InvalidProjectCost(roundId, cost, r.budget);
        index = r.projectCount;
        if (index == MAX_PROJECTS) revert RoundFull(roundId);

        r.projectCount = uint16(index + 1);
        Project storage p = _projects[roundId][index];
        p.proposer = proposer;
        p.textHash = textHash;
        _costs[roundId][index / 2] |= uint256(cost) << ((index % 2) * 128);
        emit BudgetProjectSubmitted(roundId, index, proposer, textHash, cost);
    }

    /// @inheritdoc IParticipatoryBudget
    function markIneligible(uint256 roundId, uint256 index, bytes32 reasonHash) external {
        address sender = _msgSender();
        Round storage r = _existing(roundId);
        if (!_registry.hasRole(r.communityId, COMMITTEE, sender)) revert NotCommittee(r.communityId, sender);
        // Ballots are judged on eligibility: it may not change once one could have been cast.
        if (block.timestamp >= r.votingOpensAt) revert EligibilityFrozen(roundId, uint64(r.votingOpensAt));
        if (index >= r.projectCount) revert UnknownBudgetProject(roundId, index);
        if (reasonHash == bytes32(0)) revert MissingReasonHash();
        uint256 bit = 1 << index;
        if (r.ineligible & bit != 0) revert ProjectAlreadyIneligible(roundId, index);

        r.ineligible |= bit;
        _projects[roundId][index].ineligibleReason = reasonHash;
        emit BudgetProjectMarkedIneligible(roundId, index, reasonHash, sender);
    }

    /// @inheritdoc IParticipatoryBudget
    function castBudgetBallots(uint256 roundId, SignedBudgetBallot[] calldata ballots)
        external
        returns (uint256 counted)
    {
        Round storage r = _existing(roundId);
        if (block.timestamp < r.votingOpensAt || block.timestamp >= r.votingClosesAt) {
            for (uint256 i; i < ballots.length; ++i) {
                emit BudgetBallotSkipped(roundId, ballots[i].voter, BudgetSkipReason.VotingNotOpen);
            }
            return 0;
        }
        uint256[] memory indexesPlusOne = _rollIndexes(r, ballots);
        uint256 ctx = _batchContext(roundId, r);
        counted = _countBallots(ctx, ballots, indexesPlusOne);
        if (counted == 0) return 0;
        _addTallies(roundId, ctx);
        // The roll size (< 2^32) bounds the ballots held.
        r.ballotCount += uint32(counted);
    }

    /// @inheritdoc IParticipatoryBudget
    function selectProjects(uint256 roundId) external returns (uint256 selected) {
        Round storage r = _existing(roundId);
        if (r.selectionDone) revert RoundAlreadySelected(roundId);
        if (block.timestamp < r.votingClosesAt) revert RoundVotingNotClosed(roundId, uint64(r.votingClosesAt));
        r.selectionDone = true;

        uint256 communityId = r.communityId;
        uint256 available = _fund.fundOf(communityId).available;
        uint256 budget = r.budget;
        uint256 selectionBudget = available < budget ? available : budget;
        uint256[] memory order = _walkOrder(roundId, r);
        uint256 remaining;
        (selected, remaining) = _walk(roundId, order, selectionBudget);
        uint256 spent = selectionBudget - remaining;
        r.selected = selected;
        // At most the budget, below 2^96.
        r.selectionBudget = uint96(selectionBudget);
        emit BudgetRoundSelected(roundId, selected, uint128(selectionBudget), uint128(spent));
        _openGrants(roundId, communityId, order, selected);
    }

    /// @inheritdoc IParticipatoryBudget
    function recordProjectMilestone(uint256 roundId, uint256 index, bytes32 evidenceHash, bool completed)
        external
        returns (uint256 milestoneIndex)
    {
        address sender = _msgSender();
        Round storage r = _existing(roundId);
        if (!_registry.hasRole(r.communityId, COMMITTEE, sender)) revert NotCommittee(r.communityId, sender);
        if (index >= MAX_PROJECTS || r.selected & (1 << index) == 0) revert ProjectNotSelected(roundId, index);
        if (evidenceHash == bytes32(0)) revert MissingEvidence();
        if (r.completed & (1 << index) != 0) revert ProjectAlreadyCompleted(roundId, index);

        bytes32[] storage list = _milestones[roundId][index];
        milestoneIndex = list.length;
        list.push(evidenceHash);
        if (completed) r.completed |= 1 << index;
        emit BudgetProjectMilestoneRecorded(roundId, index, milestoneIndex, evidenceHash, completed, sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IParticipatoryBudget
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IParticipatoryBudget
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IParticipatoryBudget
    function fund() external view returns (address) {
        return address(_fund);
    }

    /// @inheritdoc IParticipatoryBudget
    function roundCount() external view returns (uint256) {
        return _roundCount;
    }

    /// @inheritdoc IParticipatoryBudget
    function getRound(uint256 roundId) external view returns (BudgetRoundView memory view_) {
        Round storage r = _existing(roundId);
        view_.communityId = r.communityId;
        view_.opener = r.opener;
        view_.textHash = r.textHash;
        view_.budget = r.budget;
        view_.currency = r.currency;
        view_.rule = r.rule;
        view_.minProjects = r.minProjects;
        view_.maxProjects = r.maxProjects;
        view_.submissionOpensAt = r.submissionOpensAt;
        view_.submissionClosesAt = r.submissionClosesAt;
        view_.votingOpensAt = r.votingOpensAt;
        view_.votingClosesAt = r.votingClosesAt;
        view_.rollVersion = r.rollVersion;
        view_.rollSize = r.rollSize;
        view_.state = _state(r);
        view_.projectCount = r.projectCount;
        view_.ballotCount = r.ballotCount;
        view_.ineligible = r.ineligible;
        view_.selected = r.selected;
        view_.selectionBudget = r.selectionBudget;
        for (uint256 i; i < r.projectCount; ++i) {
            if (r.selected & (1 << i) != 0) view_.spent += _costOf(roundId, i);
        }
    }

    /// @inheritdoc IParticipatoryBudget
    function state(uint256 roundId) external view returns (BudgetRoundState) {
        return _state(_existing(roundId));
    }

    /// @inheritdoc IParticipatoryBudget
    function getProject(uint256 roundId, uint256 index) external view returns (BudgetProjectView memory) {
        Round storage r = _existing(roundId);
        if (index >= r.projectCount) revert UnknownBudgetProject(roundId, index);
        return _project(roundId, r, index);
    }

    /// @inheritdoc IParticipatoryBudget
    function projects(uint256 roundId) external view returns (BudgetProjectView[] memory list) {
        Round storage r = _existing(roundId);
        uint256 count = r.projectCount;
        list = new BudgetProjectView[](count);
        for (uint256 i; i < count; ++i) {
            list[i] = _project(roundId, r, i);
        }
    }

    /// @inheritdoc IParticipatoryBudget
    function hasVoted(uint256 roundId, address voter) external view returns (bool) {
        Round storage r = _existing(roundId);
        (bool assigned, uint32 index) = _registry.residentIndex(r.communityId, voter);
        if (!assigned) return false;
        return _boxes[roundId][index / BOX_BITS] & (1 << (index % BOX_BITS)) != 0;
    }

    /// @inheritdoc IParticipatoryBudget
    function projectMilestones(uint256 roundId, uint256 index) external view returns (bytes32[] memory) {
        _existing(roundId);
        return _milestones[roundId][index];
    }

    /// @inheritdoc IParticipatoryBudget
    function grantIdOf(uint256 roundId, uint256 index) external pure returns (uint256) {
        return _grantId(roundId, index);
    }

    /// @inheritdoc IParticipatoryBudget
    function ballotDigest(uint256 roundId, address voter, uint256 chosen) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BALLOT_TYPEHASH, roundId, voter, chosen)));
    }

    // ---------------------------------------------------------------- internals: rounds and projects

    function _existing(uint256 roundId) private view returns (Round storage r) {
        r = _rounds[roundId];
        if (r.communityId == 0) revert UnknownBudgetRound(roundId);
    }

    function _state(Round storage r) private view returns (BudgetRoundState) {
        if (r.selectionDone) return BudgetRoundState.Selected;
        if (block.timestamp < r.submissionOpensAt) return BudgetRoundState.Pending;
        if (block.timestamp < r.submissionClosesAt) return BudgetRoundState.Submission;
        if (block.timestamp < r.votingOpensAt) return BudgetRoundState.Review;
        if (block.timestamp < r.votingClosesAt) return BudgetRoundState.Voting;
        return BudgetRoundState.Closed;
    }

    function _checkParams(BudgetRoundParams calldata params) private view {
        if (params.textHash == bytes32(0)) revert MissingTextHash();
        if (params.budget == 0 || params.budget > MAX_BUDGET || !CurrencyCode.isValid(params.currency)) {
            revert InvalidBudget(params.budget, params.currency);
        }
        // Grants are reserved in the fund's one currency: a round in another could never be paid.
        bytes3 fundCurrency = _fund.fundOf(params.communityId).currency;
        if (fundCurrency == bytes3(0)) revert CurrencyNotSet(params.communityId);
        if (fundCurrency != params.currency) revert CurrencyMismatch(params.communityId, fundCurrency, params.currency);
        if (params.minProjects == 0 || params.minProjects > params.maxProjects || params.maxProjects > MAX_PROJECTS) {
            revert InvalidProjectLimits(params.minProjects, params.maxProjects);
        }
        // The closing bound keeps every snapshot within the Registry's history guarantee.
        if (
            params.submissionOpensAt >= params.submissionClosesAt || params.submissionClosesAt > params.votingOpensAt
                || params.votingOpensAt >= params.votingClosesAt || params.submissionClosesAt <= block.timestamp
                || params.votingClosesAt > block.timestamp + ROLL_SNAPSHOT_LIFETIME
        ) {
            revert InvalidRoundSchedule(
                params.submissionOpensAt,
                params.submissionClosesAt,
                params.votingOpensAt,
                params.votingClosesAt,
                block.timestamp
            );
        }
    }

    function _project(uint256 roundId, Round storage r, uint256 index) private view returns (BudgetProjectView memory v) {
        Project storage p = _projects[roundId][index];
        v.proposer = p.proposer;
        v.textHash = p.textHash;
        v.cost = _costOf(roundId, index);
        v.votes = uint32(_votes[roundId][index / 8] >> ((index % 8) * 32));
        v.ineligibleReason = p.ineligibleReason;
        v.selected = r.selected & (1 << index) != 0;
        v.milestoneCount = _milestones[roundId][index].length;
        v.completed = r.completed & (1 << index) != 0;
    }

    function _costOf(uint256 roundId, uint256 index) private view returns (uint128) {
        return uint128(_costs[roundId][index / 2] >> ((index % 2) * 128));
    }

    function _grantId(uint256 roundId, uint256 index) private pure returns (uint256) {
        return GRANT_ID_FLAG | (roundId << 8) | index;
    }

    // ---------------------------------------------------------------- internals: selection

    /// @dev The eligible projects with votes, in the order the selection walks them, each as a
    /// key `votes << 160 | (2^96 - 1 - cost) << 8 | (255 - index)`: sorting the keys descending
    /// orders by votes descending, then cost ascending, then index ascending.
    function _walkOrder(uint256 roundId, Round storage r) private view returns (uint256[] memory keys) {
        uint256 count = r.projectCount;
        uint256 ineligible = r.ineligible;
        keys = new uint256[](count);
        uint256 n;
        uint256 votesWord;
        uint256 costsWord;
        for (uint256 i; i < count; ++i) {
            if (i % 8 == 0) votesWord = _votes[roundId][i / 8];
            if (i % 2 == 0) costsWord = _costs[roundId][i / 2];
            uint256 votes = uint32(votesWord >> ((i % 8) * 32));
            if (votes == 0 || ineligible & (1 << i) != 0) continue;
            uint256 cost = uint128(costsWord >> ((i % 2) * 128));
            keys[n] = (votes << 160) | ((MAX_BUDGET - cost) << 8) | (255 - i);
            ++n;
        }
        assembly ("memory-safe") {
            mstore(keys, n)
        }
        _sortDescending(keys);
    }

    /// @dev Walks `order` with `remaining` from `selectionBudget`: takes what fits, passes over
    /// what does not and goes on, emitting each step.
    function _walk(uint256 roundId, uint256[] memory order, uint256 selectionBudget)
        private
        returns (uint256 selected, uint256 remaining)
    {
        remaining = selectionBudget;
        for (uint256 k; k < order.length; ++k) {
            (uint256 index, uint256 votes, uint256 cost) = _unpackKey(order[k]);
            if (cost > remaining) {
                emit BudgetProjectPassedOver(roundId, index, votes, uint128(cost), uint128(remaining));
                continue;
            }
            remaining -= cost;
            selected |= 1 << index;
            emit BudgetProjectSelected(roundId, index, votes, uint128(cost), uint128(remaining));
        }
    }

    /// @dev A grant in the fund for each selected project, for its cost, in walk order, in one
    /// call. Last, once the round records its selection: the fund is the deployment's own
    /// immutable contract.
    function _openGrants(uint256 roundId, uint256 communityId, uint256[] memory order, uint256 selected) private {
        ICommunityFund.BudgetGrant[] memory grants = new ICommunityFund.BudgetGrant[](_popcount(selected));
        uint256 n = 0;
        for (uint256 k; k < order.length; ++k) {
            (uint256 index,, uint256 cost) = _unpackKey(order[k]);
            if (selected & (1 << index) == 0) continue;
            grants[n] = ICommunityFund.BudgetGrant({grantId: _grantId(roundId, index), amount: cost});
            ++n;
        }
        if (n != 0) _fund.openBudgetGrants(communityId, grants);
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        for (; x != 0; x &= x - 1) {
            ++count;
        }
    }

    function _unpackKey(uint256 key) private pure returns (uint256 index, uint256 votes, uint256 cost) {
        index = 255 - (key & 0xff);
        cost = MAX_BUDGET - ((key >> 8) & MAX_BUDGET);
        votes = key >> 160;
    }

    /// @dev Heapsort, descending: O(n log n) with no recursion. In assembly: with the selection
    /// budget written into a word already in use, it took the selection of 64 projects from
    /// 1,083,793 to 953,615 gas (bench/gas_budget.py); the Solidity form bounds-checked every swap.
    function _sortDescending(uint256[] memory keys) private pure {
        assembly ("memory-safe") {
            // Restores the min-heap below `root` within [0, end) of the words at `base`.
            function siftDown(base, root, end) {
                for {} 1 {} {
                    let child := add(shl(1, root), 1)
                    if iszero(lt(child, end)) { break }
                    let childAt := add(base, shl(5, child))
                    let childKey := mload(childAt)
                    if lt(add(child, 1), end) {
                        let rightKey := mload(add(childAt, 0x20))
                        if lt(rightKey, childKey) {
                            childAt := add(childAt, 0x20)
                            childKey := rightKey
                            child := add(child, 1)
                        }
                    }
                    let rootAt := add(base, shl(5, root))
                    let rootKey := mload(rootAt)
                    if iszero(gt(rootKey, childKey)) { break }
                    mstore(rootAt, childKey)
                    mstore(childAt, rootKey)
                    root := child
                }
            }
            let n := mload(keys)
            let base := add(keys, 0x20)
            // A min-heap, so moving its root to the end, again and again, leaves the keys descending.
            for { let start := shr(1, n) } start { start := sub(start, 1) } { siftDown(base, sub(start, 1), n) }
            for { let end := n } gt(end, 1) {} {
                end := sub(end, 1)
                let endAt := add(base, shl(5, end))
                let top := mload(base)
                mstore(base, mload(endAt))
                mstore(endAt, top)
                siftDown(base, 0, end)
            }
        }
    }

    // ---------------------------------------------------------------- internals: ballots

    /// @dev Eligibility of every ballot's voter at the round's snapshot, in one Registry call.
    function _rollIndexes(Round storage r, SignedBudgetBallot[] calldata ballots)
        private
        view
        returns (uint256[] memory)
    {
        uint256 n = ballots.length;
        address[] memory voters = new address[](n);
        for (uint256 i; i < n; ++i) {
            voters[i] = ballots[i].voter;
        }
        return _registry.rollIndexesAt(r.communityId, r.rollVersion, voters);
    }

    /// @dev Scratch memory for {_countBallots}: what every ballot of a batch shares, laid out so
    /// that each hash and the ecrecover input are contiguous:
    ///   0x000 BALLOT_TYPEHASH | 0x020 roundId | 0x040 voter | 0x060 projects   (struct hash input)
    ///   0x080 0x1901 | 0x082 domain separator | 0x0a2 struct hash             (digest input)
    ///   0x0e0 event word | 0x100 digest | 0x120 v | 0x140 r | 0x160 s          (ecrecover input)
    ///   0x180 BudgetBallotCast topic | 0x1a0 BudgetBallotSkipped topic | 0x1c0 projectCount
    ///   0x1e0 the ballot box's slot | 0x200 minProjects | 0x220 maxProjects | 0x240 ineligible
    ///   0x260 1 for Knapsack | 0x280 budget | 0x2a0 (unused)
    ///   0x2c0 .. 0x6c0 votes added by the batch (32 words, 8 projects of 32 bits each)
    ///   0x6c0 .. project costs, one word a project (Knapsack only)
    function _batchContext(uint256 roundId, Round storage r) private view returns (uint256 ctx) {
        uint256 count = r.projectCount;
        bool knapsack = r.rule == BudgetRule.Knapsack;
        uint256 size = CTX_COSTS + (knapsack ? count * 0x20 : 0);
        assembly ("memory-safe") {
            ctx := mload(0x40)
            mstore(0x40, add(ctx, size))
            // Memory past the free pointer may hold old data: the tallies start at zero.
            calldatacopy(add(ctx, CTX_TALLIES), calldatasize(), mul(TALLY_WORDS, 0x20))
        }
        _writeHashing(ctx, roundId);
        _writeRules(ctx, r);
        if (knapsack) _loadCosts(_costs[roundId], count, ctx + CTX_COSTS);
    }

    /// @dev Primes the ballot box's words of the first `rollSize` roll indexes (a bounded number).
    function _primeBox(mapping(uint256 => uint256) storage box, uint256 rollSize) private {
        uint256 words = (rollSize + BOX_BITS - 1) / BOX_BITS;
        if (words > BOX_PRIMED_WORDS_MAX) words = BOX_PRIMED_WORDS_MAX;
        for (uint256 w; w < words; ++w) {
            box[w] = BOX_PRIMED;
        }
    }

    /// @dev The batch context's typehash, round id, digest prefix, domain, topics and ballot box.
    function _writeHashing(uint256 ctx, uint256 roundId) private view {
        bytes32 typeHash = BALLOT_TYPEHASH;
        bytes32 domainSeparator = _domainSeparatorV4();
        bytes32 castTopic = BudgetBallotCast.selector;
        bytes32 skipTopic = BudgetBallotSkipped.selector;
        mapping(uint256 => uint256) storage box = _boxes[roundId];
        assembly ("memory-safe") {
            mstore(ctx, typeHash)
            mstore(add(ctx, 0x20), roundId)
            mstore(add(ctx, 0x80), hex"1901")
            mstore(add(ctx, 0x82), domainSeparator)
            mstore(add(ctx, 0x180), castTopic)
            mstore(add(ctx, 0x1a0), skipTopic)
            mstore(add(ctx, 0x1e0), box.slot)
        }
    }

    /// @dev The batch context's ballot rules: project count, limits, ineligible set, rule, budget.
    function _writeRules(uint256 ctx, Round storage r) private view {
        uint256 count = r.projectCount;
        uint256 minProjects = r.minProjects;
        uint256 maxProjects = r.maxProjects;
        uint256 ineligible = r.ineligible;
        uint256 knapsack = r.rule == BudgetRule.Knapsack ? 1 : 0;
        uint256 budget = r.budget;
        assembly ("memory-safe") {
            mstore(add(ctx, 0x1c0), count)
            mstore(add(ctx, 0x200), minProjects)
            mstore(add(ctx, 0x220), maxProjects)
            mstore(add(ctx, 0x240), ineligible)
            mstore(add(ctx, 0x260), knapsack)
            mstore(add(ctx, 0x280), budget)
        }
    }

    /// @dev Unpacks the first `count` project costs into memory at `out`, one word each.
    function _loadCosts(mapping(uint256 => uint256) storage costs, uint256 count, uint256 out) private view {
        uint256 word;
        for (uint256 i; i < count; ++i) {
            if (i % 2 == 0) word = costs[i / 2];
            uint256 cost = uint128(word >> ((i % 2) * 128));
            assembly ("memory-safe") {
                mstore(add(out, shl(5, i)), cost)
            }
        }
    }

    /// @dev Adds the batch's votes to the stored tallies, writing only the words it changed.
    function _addTallies(uint256 roundId, uint256 ctx) private {
        mapping(uint256 => uint256) storage votes = _votes[roundId];
        uint256 words = (uint256(_rounds[roundId].projectCount) + 7) / 8;
        for (uint256 w; w < words; ++w) {
            uint256 added;
            assembly ("memory-safe") {
                added := mload(add(add(ctx, CTX_TALLIES), shl(5, w)))
            }
            // A lane holds at most the roll size (< 2^32) votes, so it never carries over.
            if (added != 0) {
                unchecked {
                    votes[w] += added;
                }
            }
        }
    }

    /// @dev Marks each ballot's bitmap fault (BudgetSkipReason UnknownProject..OverBudget, by the
    /// rules of IParticipatoryBudget) in the top byte of its roll index entry, which is below
    /// 2^32; {_countBallots} reports it only after the signature, roll and box checks. The votes
    /// of every bitmap without a fault are already in the batch's tallies; {_countBallots} takes
    /// them back for a ballot it skips.
    function _markBitmapFaults(uint256 ctx, SignedBudgetBallot[] calldata ballots, uint256[] memory indexesPlusOne)
        private
        pure
    {
        assembly ("memory-safe") {
            // Takes back the votes of `projects` from the batch's packed tallies.
            function untally(c, projects) {
                let lanes := add(c, 0x2c0)
                for {
                    let x := projects
                    let i := 0
                } x {} {
                    if iszero(and(x, 0xff)) {
                        x := shr(8, x)
                        i := add(i, 8)
                        continue
                    }
                    if and(x, 1) {
                        let lane := add(lanes, shl(5, shr(3, i)))
                        mstore(lane, sub(mload(lane), shl(shl(5, and(i, 7)), 1)))
                    }
                    x := shr(1, x)
                    i := add(i, 1)
                }
            }
            // 0 if the bitmap is a valid ballot of the round, else the reason. A bitmap that
            // passes the first two checks is added to the batch's tallies as its bits are
            // counted (taken back if it then fails), so a counted ballot walks its bits once:
            // 1,378 gas a ballot less than a second walk (bench/gas_budget.py, 6 of 20).
            function bitmapFault(c, projects) -> fault {
                if shr(mload(add(c, 0x1c0)), projects) {
                    fault := 5
                    leave
                }
                if and(projects, mload(add(c, 0x240))) {
                    fault := 6
                    leave
                }
                let knapsack := mload(add(c, 0x260))
                let costs := add(c, 0x6c0)
                let lanes := add(c, 0x2c0)
                let chosen := 0
                let total := 0
                for {
                    let x := projects
                    let i := 0
                } x {} {
                    if iszero(and(x, 0xff)) {
                        x := shr(8, x)
                        i := add(i, 8)
                        continue
                    }
                    if and(x, 1) {
                        chosen := add(chosen, 1)
                        if knapsack { total := add(total, mload(add(costs, shl(5, i)))) }
                        let lane := add(lanes, shl(5, shr(3, i)))
                        mstore(lane, add(mload(lane), shl(shl(5, and(i, 7)), 1)))
                    }
                    x := shr(1, x)
                    i := add(i, 1)
                }
                switch lt(chosen, mload(add(c, 0x200)))
                case 1 { fault := 7 }
                default {
                    switch gt(chosen, mload(add(c, 0x220)))
                    case 1 { fault := 8 }
                    default { if and(knapsack, gt(total, mload(add(c, 0x280)))) { fault := 9 } }
                }
                if fault { untally(c, projects) }
            }
            let out := add(indexesPlusOne, 0x20)
            for {
                let src := ballots.offset
                let end := add(src, shl(7, ballots.length)) // a SignedBudgetBallot is 4 static words
            } lt(src, end) {
                src := add(src, 0x80)
                out := add(out, 0x20)
            } {
                mstore(out, or(mload(out), shl(248, bitmapFault(ctx, calldataload(add(src, 0x20))))))
            }
        }
    }

    /// @dev The relayed-ballot loop. For each ballot, in IParticipatoryBudget's order: a low-s
    /// signature by the named voter over the EIP-712 digest, on the roll at the snapshot, not yet
    /// voted, then the bitmap fault {_markBitmapFaults} found; then {BudgetBallotCast}, the box
    /// marked and one vote added to each project in the batch's tallies, or {BudgetBallotSkipped}
    /// with the first rule broken (reasons are BudgetSkipReason's values). In assembly, as
    /// Council's and Elections' loops are: it runs for every ballot.
    function _countBallots(uint256 ctx, SignedBudgetBallot[] calldata ballots, uint256[] memory indexesPlusOne)
        private
        returns (uint256 counted)
    {
        _markBitmapFaults(ctx, ballots, indexesPlusOne);
        assembly ("memory-safe") {
            function skip(c, reason, voter) {
                mstore(add(c, 0xe0), reason)
                log3(add(c, 0xe0), 0x20, mload(add(c, 0x1a0)), mload(add(c, 0x20)), voter)
            }
            // 0 if `voter` signed the ballot at c+0x40 with a low-s signature, else the reason.
            function signatureFault(c, src, voter) -> fault {
                mstore(add(c, 0xa2), keccak256(c, 0x80))
                mstore(add(c, 0x100), keccak256(add(c, 0x80), 0x42))
                let vs := calldataload(add(src, 0x60))
                let s := and(vs, sub(shl(255, 1), 1))
                // ecrecover accepts the high-s twin of every signature: refuse it first.
                if gt(s, HALF_N) {
                    fault := 1
                    leave
                }
                mstore(add(c, 0x120), add(shr(255, vs), 27))
                mstore(add(c, 0x140), calldataload(add(src, 0x40)))
                mstore(add(c, 0x160), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, add(c, 0x100), 0x80, 0x00, 0x20))
                let signer := mload(0x00)
                if or(iszero(signer), iszero(eq(signer, voter))) { fault := 2 }
            }
            // 0 if the ballot at `src` counts, else the reason; with the box word to write.
            // `entry` is the roll index + 1 (0: not on the roll) with the bitmap fault on top.
            function judge(c, src, entry, voter) -> fault, slot, marked {
                fault := voterFault(c, src, entry, voter)
                if fault {
                    // No bitmap fault: {_markBitmapFaults} added its votes; take them back.
                    if iszero(shr(248, entry)) { untally(c, mload(add(c, 0x60))) }
                    leave
                }
                let indexPlusOne := and(entry, sub(shl(248, 1), 1))
                mstore(0x00, div(sub(indexPlusOne, 1), 255)) // BOX_BITS
                mstore(0x20, mload(add(c, 0x1e0)))
                slot := keccak256(0x00, 0x40)
                marked := or(sload(slot), shl(mod(sub(indexPlusOne, 1), 255), 1))
                fault := shr(248, entry)
            }
            // The first of: a bad signature, not on the roll, already voted (0 if none).
            function voterFault(c, src, entry, voter) -> fault {
                fault := signatureFault(c, src, voter)
                if fault { leave }
                let indexPlusOne := and(entry, sub(shl(248, 1), 1))
                if iszero(indexPlusOne) {
                    fault := 3
                    leave
                }
                mstore(0x00, div(sub(indexPlusOne, 1), 255)) // BOX_BITS
                mstore(0x20, mload(add(c, 0x1e0)))
                if and(sload(keccak256(0x00, 0x40)), shl(mod(sub(indexPlusOne, 1), 255), 1)) { fault := 4 }
            }
            // Takes back the votes {_markBitmapFaults} added for `projects`.
            function untally(c, projects) {
                let lanes := add(c, 0x2c0)
                for {
                    let x := projects
                    let i := 0
                } x {} {
                    if iszero(and(x, 0xff)) {
                        x := shr(8, x)
                        i := add(i, 8)
                        continue
                    }
                    if and(x, 1) {
                        let lane := add(lanes, shl(5, shr(3, i)))
                        mstore(lane, sub(mload(lane), shl(shl(5, and(i, 7)), 1)))
                    }
                    x := shr(1, x)
                    i := add(i, 1)
                }
            }

            let next := add(indexesPlusOne, 0x20)
            for {
                let src := ballots.offset
                let end := add(src, shl(7, ballots.length)) // a SignedBudgetBallot is 4 static words
            } lt(src, end) {
                src := add(src, 0x80)
                next := add(next, 0x20)
            } {
                let voter := calldataload(src)
                let projects := calldataload(add(src, 0x20))
                // Dirty high bits are malformed calldata, refused as the ABI decoder would.
                if shr(160, voter) { revert(0, 0) }
                mstore(add(ctx, 0x40), voter)
                mstore(add(ctx, 0x60), projects)
                let fault, slot, marked := judge(ctx, src, mload(next), voter)
                if fault {
                    skip(ctx, fault, voter)
                    continue
                }
                sstore(slot, marked)
                counted := add(counted, 1)
                mstore(add(ctx, 0xe0), projects)
                log3(add(ctx, 0xe0), 0x20, mload(add(ctx, 0x180)), mload(add(ctx, 0x20)), voter)
            }
        }
    }
}
