// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ICouncil} from "./interfaces/ICouncil.sol";
import {IInitiatives} from "./interfaces/IInitiatives.sol";
import {IMandates} from "./interfaces/IMandates.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {ISecretBallot} from "./interfaces/ISecretBallot.sol";
import {CurrencyCode} from "./libraries/CurrencyCode.sol";
import {ROLL_SNAPSHOT_LIFETIME} from "./libraries/RollRecord.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title Council
/// @notice Proposals, signed ballots relayed in batches, on-chain tallies, results and execution
/// milestones for Commons Ledger communities.
/// @dev Gas layout: everything a ballot needs sits in one proposal word; double votes are caught
/// by a ballot box (a bitmap keyed by the resident's stable roll index, 224 residents per word)
/// that a community's proposals reuse once the previous holder has closed; eligibility for a
/// whole batch is one call into the Registry; the tally (32 bits per option, packed in one word)
/// is accumulated in memory and written once per batch. Measured in bench/gas_council.py.
contract Council is ICouncil, EIP712, ERC2771Context {
    /// @inheritdoc ICouncil
    uint8 public constant MAX_OPTIONS = 8;
    /// @inheritdoc ICouncil
    uint8 public constant NO_WINNER = type(uint8).max;
    /// @inheritdoc ICouncil
    uint256 public constant SECRET_TALLY_GRACE = 30 days;
    /// @inheritdoc ICouncil
    bytes32 public constant BALLOT_TYPEHASH = keccak256("Ballot(uint256 proposalId,address voter,uint8 option)");
    /// @inheritdoc ICouncil
    bytes32 public constant PROXY_BALLOT_TYPEHASH =
        keccak256("ProxyBallot(uint256 proposalId,address voter,address proxy,uint8 option)");

    bytes32 private constant COMMITTEE = keccak256("COMMITTEE");
    uint256 private constant BPS = 10_000;
    /// @dev Voter bits per ballot-box word (the other 32 bits tag the word's proposal).
    uint256 private constant BOX_BITS = 224;
    /// @dev Ballot boxes each community reuses; a community with more proposals open at once
    /// gives the extra ones a box of their own.
    uint256 private constant SHARED_BOXES = 8;

    /// @dev Laid out by word, not by size: a ballot reads word 0 only.
    struct Proposal {
        // word 0: all a ballot needs
        uint64 communityId;
        uint32 rollVersion;
        uint32 rollSize;
        uint40 opensAt;
        uint40 closesAt;
        uint8 optionCount;
        BallotKind kind;
        Outcome outcome;
        ExecutionStatus execution;
        uint8 box; // 0: a ballot box of its own; k > 0: the community's shared box k - 1
        // word 1: ballots per option, 32 bits each
        uint256 tally;
        // word 2
        bytes32 textHash;
        // word 3
        address proposer;
        uint16 quorumBps;
        uint16 thresholdBps;
        uint8 winningOption;
        // word 4
        uint128 budgetAmount;
        bytes3 budgetCurrency;
        uint32 proxyBallots; // ballots in the tally cast by proxy
    }

    IRegistry private immutable _registry;
    /// @dev The Initiatives contract: it opens the proposal a reached initiative becomes, in any
    /// community, without the committee role (see IInitiatives).
    IInitiatives private immutable _initiatives;
    uint256 private _proposalCount;
    mapping(uint256 proposalId => Proposal) private _proposals;
    /// @dev Ballot boxes: bitmaps of who voted, by roll index. Word `i / 224` holds the bit of
    /// index `i` at position `i % 224`, under a 32-bit tag (the top bits) naming the proposal
    /// that wrote it; a word with another tag is empty for this proposal. The tag lets a closed
    /// proposal's box be handed to the next proposal of its community without clearing it:
    /// its words are then rewritten nonzero to nonzero (5,000 gas) instead of zero to nonzero
    /// (22,100), which is most of what a fresh proposal's first ballots would otherwise cost.
    mapping(uint256 communityId => mapping(uint256 box => mapping(uint256 word => uint256))) private _sharedBoxes;
    mapping(uint256 proposalId => mapping(uint256 word => uint256)) private _ownBoxes;
    /// @dev Per community, SHARED_BOXES lanes of 32 bits: the proposal holding each shared box.
    mapping(uint256 communityId => uint256 holders) private _boxHolders;
    mapping(uint256 proposalId => bytes32[] evidenceHashes) private _milestones;

    // ---------------------------------------------------------------- proxy ballots: state
    /// @dev A proxy ballot record: the proxy (low 160 bits), its option (next 8), and
    /// PROXY_OVERRIDDEN once the voter's own ballot took its place. Nonzero once cast.
    uint256 private constant PROXY_OVERRIDDEN = 1 << 168;
    IMandates private immutable _mandates;
    mapping(uint256 proposalId => mapping(address voter => uint256 record)) private _proxyBallots;
    mapping(uint256 proposalId => mapping(address proxy => uint256)) private _proxyBallotsBy;

    // ---------------------------------------------------------------- secret proposals: state
    ISecretBallot private immutable _secretBallot;
    mapping(uint256 proposalId => uint256 voteId) private _secretVotes;
    mapping(uint256 voteId => uint256 proposalId) private _secretProposals;

    /// @notice Wires the council to its forwarder and to the Registry it reads rolls and roles from.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    /// @param registry_ The Registry holding communities, roles and rolls.
    /// @param initiatives_ The Initiatives contract, trusted to open proposals without the
    /// committee role (its address is known before it is deployed: see ledger/deploy.py).
    /// @param mandates_ The Mandates contract proxy ballots are checked against.
    /// @param secretBallot_ The SecretBallot contract whose votes decide secret proposals.
    constructor(
        address trustedForwarder,
        address registry_,
        address initiatives_,
        address mandates_,
        address secretBallot_
    ) EIP712("CommonsCouncil", "1") ERC2771Context(trustedForwarder) {
        _registry = IRegistry(registry_);
        _initiatives = IInitiatives(initiatives_);
        _mandates = IMandates(mandates_);
        _secretBallot = ISecretBallot(secretBallot_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc ICouncil
    function openProposal(ProposalParams calldata params) external returns (uint256 proposalId) {
        address proposer = _msgSender();
        uint256 communityId = params.communityId;
        // A reached initiative opens its proposal by itself: no committee member can hold it back.
        if (proposer != address(_initiatives) && !_registry.hasRole(communityId, COMMITTEE, proposer)) {
            revert NotCommittee(communityId, proposer);
        }
        _checkParams(params);
        (uint32 rollVersion, uint32 rollSize) = _registry.rollSnapshot(communityId);
        if (rollSize == 0) revert EmptyRoll(communityId);

        proposalId = ++_proposalCount;
        // Ballot-box words are tagged with 32 bits of the proposal id.
        if (proposalId > type(uint32).max) revert TooManyProposals();
        Proposal storage p = _proposals[proposalId];
        // A secret proposal's ballots go to its secret vote: it holds no shared box.
        if (!_isSecret(params.kind)) p.box = _takeBox(communityId, proposalId);
        // The roll is not empty, so the community exists, so its id is below the Registry's count.
        p.communityId = uint64(communityId);
        p.rollVersion = rollVersion;
        p.rollSize = rollSize;
        p.opensAt = uint40(params.opensAt);
        p.closesAt = uint40(params.closesAt);
        p.optionCount = params.optionCount;
        p.kind = params.kind;
        p.textHash = params.textHash;
        p.proposer = proposer;
        p.quorumBps = params.quorumBps;
        p.thresholdBps = params.thresholdBps;
        p.budgetAmount = params.budgetAmount;
        p.budgetCurrency = params.budgetCurrency;
        emit ProposalOpened(proposalId, communityId, proposer, params, rollVersion, rollSize);
    }

    /// @inheritdoc ICouncil
    function castVote(uint256 proposalId, uint8 option) external {
        Proposal storage p = _existing(proposalId);
        ProposalState current = _state(p);
        if (current != ProposalState.Open) revert ProposalNotOpen(proposalId, current);
        if (_isSecret(p.kind)) revert BallotsAreSecret(proposalId);
        uint8 optionCount = p.optionCount;
        if (option >= optionCount) revert InvalidOption(proposalId, option, optionCount);
        address voter = _msgSender();
        uint32 rollVersion = p.rollVersion;
        uint256 indexPlusOne = _registry.rollIndexAt(p.communityId, rollVersion, voter);
        if (indexPlusOne == 0) revert VoterNotOnRoll(proposalId, voter, rollVersion);
        if (_markVoted(_ballotBox(p, proposalId), proposalId, indexPlusOne - 1)) {
            unchecked {
                // A lane holds at most the roll size (< 2^32) ballots, so it never carries over.
                p.tally += 1 << (uint256(option) * 32);
            }
        } else if (!_overrideProxyBallot(p, proposalId, voter, option)) {
            revert AlreadyVoted(proposalId, voter);
        }
        emit BallotCast(proposalId, voter, option, _ballotDigest(proposalId, voter, option));
    }

    /// @inheritdoc ICouncil
    function castBallots(uint256 proposalId, SignedBallot[] calldata ballots) external returns (uint256 counted) {
        Proposal storage p = _existing(proposalId);
        uint256 n = ballots.length;
        bool notOpen = _state(p) != ProposalState.Open;
        if (notOpen || _isSecret(p.kind)) {
            // Late (or early) ballots are recorded as refused rather than reverting, so the relayer
            // and the voter learn from the chain why they were not counted.
            SkipReason reason = notOpen ? SkipReason.ProposalNotOpen : SkipReason.SecretBallotsOnly;
            for (uint256 i; i < n; ++i) {
                emit BallotSkipped(proposalId, ballots[i].voter, reason);
            }
            return 0;
        }
        uint256[] memory indexesPlusOne = _rollIndexes(p, ballots);
        uint256 ctx = _batchContext(proposalId, p.optionCount, _ballotBox(p, proposalId));
        uint256 tallyDelta = _countBallots(ctx, ballots, indexesPlusOne);
        if (tallyDelta != 0) {
            unchecked {
                // A lane holds at most the roll size (< 2^32) ballots, so it never carries over.
                p.tally += tallyDelta;
                for (uint256 lane = tallyDelta; lane != 0; lane >>= 32) {
                    counted += uint32(lane);
                }
            }
            uint256 overridden = _overriddenIn(ctx);
            if (overridden != 0) _settleOverrides(p, overridden);
        }
    }

    /// @inheritdoc ICouncil
    function castProxyBallots(uint256 proposalId, SignedProxyBallot[] calldata ballots)
        external
        returns (uint256 counted)
    {
        Proposal storage p = _existing(proposalId);
        bool notOpen = _state(p) != ProposalState.Open;
        if (notOpen || _isSecret(p.kind)) {
            ProxyBallotSkipReason reason =
                notOpen ? ProxyBallotSkipReason.ProposalNotOpen : ProxyBallotSkipReason.SecretBallotsOnly;
            for (uint256 i; i < ballots.length; ++i) {
                _skipProxyBallot(proposalId, ballots[i], reason);
            }
            return 0;
        }
        ProxyBatch memory batch = _proxyBatch(p, proposalId, ballots);
        for (uint256 i; i < ballots.length; ++i) {
            (bool ok, ProxyBallotSkipReason reason) = _proxyBallotFault(p, proposalId, ballots[i], batch, i);
            if (ok) {
                _countProxyBallot(p, proposalId, ballots[i], batch.digests[i], batch.voterIndexes[i] - 1);
                ++counted;
            } else {
                _skipProxyBallot(proposalId, ballots[i], reason);
            }
        }
    }

    /// @inheritdoc ICouncil
    function finalize(uint256 proposalId) external returns (Outcome outcome) {
        Proposal storage p = _existing(proposalId);
        if (p.outcome != Outcome.None) revert AlreadyFinalized(proposalId, p.outcome);
        if (block.timestamp < p.closesAt) revert VotingNotClosed(proposalId, p.closesAt);
        if (_isSecret(p.kind)) {
            (bool published, uint256 packed) = _secretTally(proposalId);
            if (!published) {
                p.outcome = Outcome.TallyNeverPublished;
                p.winningOption = NO_WINNER;
                emit ProposalFinalized(proposalId, Outcome.TallyNeverPublished, new uint256[](p.optionCount), 0, NO_WINNER);
                return Outcome.TallyNeverPublished;
            }
            p.tally = packed;
        }
        uint256[] memory tally = _unpack(p.tally, p.optionCount);
        uint256 turnout;
        uint8 winningOption;
        (outcome, winningOption, turnout) = _decide(p, tally);
        p.outcome = outcome;
        p.winningOption = winningOption;
        emit ProposalFinalized(proposalId, outcome, tally, turnout, winningOption);
    }

    /// @inheritdoc ICouncil
    function linkSecretVote(uint256 proposalId, uint256 voteId) external {
        Proposal storage p = _existing(proposalId);
        address linker = _msgSender();
        if (!_registry.hasRole(p.communityId, COMMITTEE, linker)) revert NotCommittee(p.communityId, linker);
        if (!_isSecret(p.kind)) revert NotSecretProposal(proposalId, p.kind);
        // Once ballots could be cast, changing where they go would change who decides.
        if (block.timestamp >= p.opensAt) revert ProposalAlreadyOpened(proposalId, p.opensAt);
        uint256 linked = _secretVotes[proposalId];
        if (linked != 0) revert SecretVoteAlreadyLinked(proposalId, linked);
        uint256 taken = _secretProposals[voteId];
        if (taken != 0) revert SecretVoteTaken(voteId, taken);
        _checkSecretVote(p, proposalId, voteId);
        _secretVotes[proposalId] = voteId;
        _secretProposals[voteId] = proposalId;
        emit SecretVoteLinked(proposalId, voteId, p.communityId, linker);
    }

    /// @inheritdoc ICouncil
    function recordMilestone(uint256 proposalId, bytes32 evidenceHash, bool completed)
        external
        returns (uint256 milestoneIndex)
    {
        Proposal storage p = _existing(proposalId);
        address recorder = _msgSender();
        if (!_registry.hasRole(p.communityId, COMMITTEE, recorder)) revert NotCommittee(p.communityId, recorder);
        if (p.outcome != Outcome.Passed) revert ProposalNotPassed(proposalId, p.outcome);
        if (p.execution == ExecutionStatus.Completed) revert ExecutionAlreadyCompleted(proposalId);
        if (evidenceHash == bytes32(0)) revert MissingEvidence();
        ExecutionStatus status = completed ? ExecutionStatus.Completed : ExecutionStatus.InProgress;
        p.execution = status;
        bytes32[] storage list = _milestones[proposalId];
        milestoneIndex = list.length;
        list.push(evidenceHash);
        emit MilestoneRecorded(proposalId, milestoneIndex, evidenceHash, status, recorder);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ICouncil
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ICouncil
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ICouncil
    function mandates() external view returns (address) {
        return address(_mandates);
    }

    /// @inheritdoc ICouncil
    function secretBallot() external view returns (address) {
        return address(_secretBallot);
    }

    /// @inheritdoc ICouncil
    function secretVoteOf(uint256 proposalId) external view returns (uint256) {
        return _secretVotes[proposalId];
    }

    /// @inheritdoc ICouncil
    function proposalOfSecretVote(uint256 voteId) external view returns (uint256) {
        return _secretProposals[voteId];
    }

    /// @inheritdoc ICouncil
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc ICouncil
    function getProposal(uint256 proposalId) external view returns (ProposalView memory view_) {
        Proposal storage p = _existing(proposalId);
        view_.communityId = p.communityId;
        view_.proposer = p.proposer;
        view_.textHash = p.textHash;
        view_.kind = p.kind;
        view_.optionCount = p.optionCount;
        view_.opensAt = p.opensAt;
        view_.closesAt = p.closesAt;
        view_.quorumBps = p.quorumBps;
        view_.thresholdBps = p.thresholdBps;
        view_.budgetAmount = p.budgetAmount;
        view_.budgetCurrency = p.budgetCurrency;
        view_.rollVersion = p.rollVersion;
        view_.rollSize = p.rollSize;
        view_.state = _state(p);
        view_.outcome = p.outcome;
        view_.winningOption = p.outcome == Outcome.None ? NO_WINNER : p.winningOption;
        view_.tally = _unpack(p.tally, p.optionCount);
        view_.execution = p.execution;
        view_.milestoneCount = _milestones[proposalId].length;
    }

    /// @inheritdoc ICouncil
    function state(uint256 proposalId) external view returns (ProposalState) {
        return _state(_existing(proposalId));
    }

    /// @inheritdoc ICouncil
    function tallyOf(uint256 proposalId) external view returns (uint256[] memory tally) {
        Proposal storage p = _existing(proposalId);
        return _unpack(p.tally, p.optionCount);
    }

    /// @inheritdoc ICouncil
    function hasVoted(uint256 proposalId, address voter) external view returns (bool) {
        Proposal storage p = _existing(proposalId);
        uint256 box = p.box;
        if (box != 0 && uint32(_boxHolders[p.communityId] >> ((box - 1) * 32)) != proposalId) {
            revert BallotBoxRecycled(proposalId);
        }
        (bool assigned, uint32 index) = _registry.residentIndex(p.communityId, voter);
        if (!assigned) return false;
        uint256 word = _ballotBox(p, proposalId)[index / BOX_BITS];
        return word >> BOX_BITS == proposalId && word & (1 << (index % BOX_BITS)) != 0;
    }

    /// @inheritdoc ICouncil
    function proxyBallotCount(uint256 proposalId) external view returns (uint256) {
        return _existing(proposalId).proxyBallots;
    }

    /// @inheritdoc ICouncil
    function proxyBallotOf(uint256 proposalId, address voter)
        external
        view
        returns (address proxy, uint8 option, bool overridden)
    {
        uint256 record = _proxyBallots[proposalId][voter];
        return (address(uint160(record)), uint8(record >> 160), record & PROXY_OVERRIDDEN != 0);
    }

    /// @inheritdoc ICouncil
    function proxyBallotDigest(uint256 proposalId, address voter, address proxy, uint8 option)
        external
        view
        returns (bytes32)
    {
        return _proxyBallotDigest(proposalId, voter, proxy, option);
    }

    /// @inheritdoc ICouncil
    function milestones(uint256 proposalId) external view returns (bytes32[] memory) {
        _existing(proposalId);
        return _milestones[proposalId];
    }

    /// @inheritdoc ICouncil
    function ballotDigest(uint256 proposalId, address voter, uint8 option) external view returns (bytes32) {
        return _ballotDigest(proposalId, voter, option);
    }

    /// @inheritdoc ICouncil
    function budgetOf(uint256 proposalId)
        external
        view
        returns (uint256 communityId, bool passed, uint256 amount, bytes3 currency)
    {
        Proposal storage p = _proposals[proposalId];
        return (p.communityId, p.outcome == Outcome.Passed, p.budgetAmount, p.budgetCurrency);
    }

    // ---------------------------------------------------------------- internals

    function _existing(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.communityId == 0) revert UnknownProposal(proposalId);
    }

    function _state(Proposal storage p) private view returns (ProposalState) {
        if (p.outcome != Outcome.None) return ProposalState.Finalized;
        if (block.timestamp < p.opensAt) return ProposalState.Pending;
        if (block.timestamp < p.closesAt) return ProposalState.Open;
        return ProposalState.Closed;
    }

    function _checkParams(ProposalParams calldata params) private view {
        if (params.textHash == bytes32(0)) revert MissingTextHash();
        uint8 optionCount = params.optionCount;
        bool yesNo = _isYesNo(params.kind);
        if (yesNo ? optionCount != 3 : (optionCount < 2 || optionCount > MAX_OPTIONS)) {
            revert InvalidOptions(params.kind, optionCount);
        }
        // The closing bound keeps every snapshot within the Registry's history guarantee.
        if (
            params.opensAt >= params.closesAt || params.closesAt <= block.timestamp
                || params.closesAt > block.timestamp + ROLL_SNAPSHOT_LIFETIME
        ) revert InvalidSchedule(params.opensAt, params.closesAt, block.timestamp);
        // Below half, both "yes" and "no" could pass the same yes/no question.
        if (params.quorumBps > BPS || params.thresholdBps >= BPS || (yesNo && params.thresholdBps < BPS / 2)) {
            revert InvalidBasisPoints(params.quorumBps, params.thresholdBps);
        }
        if (params.budgetAmount != 0 && !CurrencyCode.isValid(params.budgetCurrency)) {
            revert InvalidBudget(params.budgetAmount, params.budgetCurrency);
        }
    }

    /// @dev Eligibility of every ballot's voter at the proposal's snapshot, in one Registry call.
    function _rollIndexes(Proposal storage p, SignedBallot[] calldata ballots)
        private
        view
        returns (uint256[] memory)
    {
        uint256 n = ballots.length;
        address[] memory voters = new address[](n);
        for (uint256 i; i < n; ++i) {
            voters[i] = ballots[i].voter;
        }
        return _registry.rollIndexesAt(p.communityId, p.rollVersion, voters);
    }

    /// @dev Hands the community's first free shared ballot box (never used, or held by a proposal
    /// that has closed and so can take no more ballots) to `proposalId`; 0 if all are busy.
    function _takeBox(uint256 communityId, uint256 proposalId) private returns (uint8) {
        uint256 holders = _boxHolders[communityId];
        for (uint256 k; k < SHARED_BOXES; ++k) {
            uint256 shift = k * 32;
            uint256 holder = uint32(holders >> shift);
            if (holder == 0 || _proposals[holder].closesAt <= block.timestamp) {
                _boxHolders[communityId] = (holders & ~(uint256(type(uint32).max) << shift)) | (proposalId << shift);
                return uint8(k + 1);
            }
        }
        return 0;
    }

    /// @dev `proposalId`'s ballot box: its own, or the community's shared box it holds.
    function _ballotBox(Proposal storage p, uint256 proposalId)
        private
        view
        returns (mapping(uint256 word => uint256) storage)
    {
        uint256 box = p.box;
        return box == 0 ? _ownBoxes[proposalId] : _sharedBoxes[p.communityId][box - 1];
    }

    /// @dev Sets roll index `index`'s bit for proposal `tag` in the box `words`; false if it was
    /// already set. A word tagged for another (closed) proposal counts as empty. The same
    /// bit-setting as the batch loop's mark(), which the tests pin it to; in assembly because its
    /// Solidity form cost 192 gas more per direct vote (castVote 46,982 against 46,790 in
    /// bench/gas_council.py).
    function _markVoted(mapping(uint256 word => uint256) storage words, uint256 tag, uint256 index)
        private
        returns (bool marked)
    {
        assembly ("memory-safe") {
            mstore(0x00, div(index, BOX_BITS))
            mstore(0x20, words.slot)
            let slot := keccak256(0x00, 0x40)
            let bits := sload(slot)
            if iszero(eq(shr(BOX_BITS, bits), tag)) { bits := shl(BOX_BITS, tag) }
            let bit := shl(mod(index, BOX_BITS), 1)
            if iszero(and(bits, bit)) {
                sstore(slot, or(bits, bit))
                marked := 1
            }
        }
    }

    /// @dev Scratch memory for {_countBallots}: what every ballot of a batch shares, laid out so
    /// that each hash and the ecrecover input are contiguous:
    ///   0x000 BALLOT_TYPEHASH | 0x020 proposalId | 0x040 voter | 0x060 option   (struct hash input)
    ///   0x080 0x1901 | 0x082 domain separator | 0x0a2 struct hash              (digest input)
    ///   0x0e0 event word 0 | 0x100 digest | 0x120 v | 0x140 r | 0x160 s         (ecrecover input;
    ///                                                   0x0e0..0x120 is BallotCast's data)
    ///   0x180 BallotCast topic | 0x1a0 BallotSkipped topic | 0x1c0 optionCount
    ///   0x1e0 the ballot box's slot (where its words are mapped)
    ///   0x200 ProxyBallotOverridden topic | 0x220 the overridden proxy ballots' options, packed as
    ///   the tally (kept in memory, not on the stack, so that a plain ballot pays nothing for it)
    function _batchContext(uint256 proposalId, uint256 optionCount, mapping(uint256 word => uint256) storage box)
        private
        view
        returns (uint256 ctx)
    {
        bytes32 typeHash = BALLOT_TYPEHASH;
        bytes32 domainSeparator = _domainSeparatorV4();
        bytes32 castTopic = BallotCast.selector;
        bytes32 skipTopic = BallotSkipped.selector;
        bytes32 overrideTopic = ProxyBallotOverridden.selector;
        assembly ("memory-safe") {
            ctx := mload(0x40)
            mstore(0x40, add(ctx, 0x240))
            mstore(ctx, typeHash)
            mstore(add(ctx, 0x20), proposalId)
            mstore(add(ctx, 0x80), hex"1901")
            mstore(add(ctx, 0x82), domainSeparator)
            mstore(add(ctx, 0x180), castTopic)
            mstore(add(ctx, 0x1a0), skipTopic)
            mstore(add(ctx, 0x1c0), optionCount)
            mstore(add(ctx, 0x1e0), box.slot)
            mstore(add(ctx, 0x200), overrideTopic)
            mstore(add(ctx, 0x220), 0)
        }
    }

    /// @dev The packed options of the proxy ballots {_countBallots} overrode.
    function _overriddenIn(uint256 ctx) private pure returns (uint256 overridden) {
        assembly ("memory-safe") {
            overridden := mload(add(ctx, 0x220))
        }
    }

    /// @dev The relayed-ballot loop. For each ballot, in this order: option in range, EIP-712
    /// digest, low-s signature by the named voter, on the roll at the snapshot, not yet voted;
    /// then {BallotCast}, or {BallotSkipped} with the first rule broken. It repeats
    /// {_ballotDigest} and {_markVoted} inline because it runs for every ballot: its Solidity
    /// form (calls, bounds checks, ABI copies) cost 1,925 gas more per ballot; the tests pin
    /// both paths to the same digests and the same ballot box. Skip reasons are SkipReason's
    /// values: 1 InvalidOption, 2 BadSignature, 3 MalleableSignature, 4 NotOnRoll, 5 AlreadyVoted.
    /// A voter already marked whose mark is a proxy ballot not yet overridden is not skipped: their
    /// own ballot takes its place ({ProxyBallotOverridden}, then {BallotCast}), the only path that
    /// reads proxy records, so a plain ballot pays nothing for proxies.
    /// Returns the increments of the packed tally (its lanes sum to the ballots counted); the
    /// overridden proxy ballots' options are left in the context ({_overriddenIn}).
    function _countBallots(uint256 ctx, SignedBallot[] calldata ballots, uint256[] memory indexesPlusOne)
        private
        returns (uint256 tallyDelta)
    {
        assembly ("memory-safe") {
            function skip(c, reason, voter) {
                mstore(add(c, 0xe0), reason)
                log3(add(c, 0xe0), 0x20, mload(add(c, 0x1a0)), mload(add(c, 0x20)), voter)
            }
            // 0 if `voter` signed the ballot at c+0x40 with a low-s signature, else the reason.
            // Leaves the digest at c+0x100.
            function signatureFault(c, src, voter) -> fault {
                mstore(add(c, 0xa2), keccak256(c, 0x80))
                mstore(add(c, 0x100), keccak256(add(c, 0x80), 0x42))
                let vs := calldataload(add(src, 0x60))
                let s := and(vs, sub(shl(255, 1), 1))
                // ecrecover accepts the high-s twin of every signature: refuse it first.
                if gt(s, HALF_N) {
                    fault := 3
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
            // Sets roll index `index`'s bit for this proposal; false if it was already set.
            function mark(c, index) -> marked {
                let tag := mload(add(c, 0x20))
                mstore(0x00, div(index, BOX_BITS))
                mstore(0x20, mload(add(c, 0x1e0)))
                let slot := keccak256(0x00, 0x40)
                let bits := sload(slot)
                if iszero(eq(shr(BOX_BITS, bits), tag)) { bits := shl(BOX_BITS, tag) }
                let bit := shl(mod(index, BOX_BITS), 1)
                if iszero(and(bits, bit)) {
                    sstore(slot, or(bits, bit))
                    marked := 1
                }
            }
            // Marks `voter`'s live proxy ballot overridden, logs it and adds its option to the
            // context's overridden tally; false if the voter has no live proxy ballot.
            function overrideProxy(c, voter) -> overrode {
                mstore(0x00, mload(add(c, 0x20)))
                mstore(0x20, _proxyBallots.slot)
                mstore(0x20, keccak256(0x00, 0x40))
                mstore(0x00, voter)
                let slot := keccak256(0x00, 0x40)
                let record := sload(slot)
                if or(iszero(record), and(record, PROXY_OVERRIDDEN)) { leave }
                sstore(slot, or(record, PROXY_OVERRIDDEN))
                let option := and(shr(160, record), 0xff)
                mstore(add(c, 0xe0), option)
                let proxy := and(record, sub(shl(160, 1), 1))
                log4(add(c, 0xe0), 0x20, mload(add(c, 0x200)), mload(add(c, 0x20)), voter, proxy)
                mstore(add(c, 0x220), add(mload(add(c, 0x220)), shl(shl(5, option), 1)))
                overrode := 1
            }

            let next := add(indexesPlusOne, 0x20)
            for {
                let src := ballots.offset
                let end := add(src, shl(7, ballots.length)) // a SignedBallot is 4 static words
            } lt(src, end) {
                src := add(src, 0x80)
                next := add(next, 0x20)
            } {
                let voter := calldataload(src)
                let option := calldataload(add(src, 0x20))
                // Dirty high bits are malformed calldata, refused as the ABI decoder would.
                if or(shr(160, voter), shr(8, option)) { revert(0, 0) }
                if iszero(lt(option, mload(add(ctx, 0x1c0)))) {
                    skip(ctx, 1, voter)
                    continue
                }
                mstore(add(ctx, 0x40), voter)
                mstore(add(ctx, 0x60), option)
                let fault := signatureFault(ctx, src, voter)
                if fault {
                    skip(ctx, fault, voter)
                    continue
                }
                let indexPlusOne := mload(next)
                if iszero(indexPlusOne) {
                    skip(ctx, 4, voter)
                    continue
                }
                if iszero(mark(ctx, sub(indexPlusOne, 1))) {
                    if iszero(overrideProxy(ctx, voter)) {
                        skip(ctx, 5, voter)
                        continue
                    }
                }
                tallyDelta := add(tallyDelta, shl(shl(5, option), 1))
                mstore(add(ctx, 0xe0), option)
                log3(add(ctx, 0xe0), 0x40, mload(add(ctx, 0x180)), mload(add(ctx, 0x20)), voter)
            }
        }
    }

    /// @dev keccak256(0x1901 ‖ domainSeparator ‖ keccak256(abi.encode(BALLOT_TYPEHASH, proposalId,
    /// voter, option))), laid out by hand: `_hashTypedDataV4(keccak256(abi.encode(...)))` cost 150
    /// gas more per direct vote (castVote 47,132 against 46,982 in bench/gas_council.py).
    function _ballotDigest(uint256 proposalId, address voter, uint8 option)
        private
        view
        returns (bytes32 digest)
    {
        bytes32 typeHash = BALLOT_TYPEHASH;
        bytes32 domainSeparator = _domainSeparatorV4();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), proposalId)
            mstore(add(ptr, 0x40), voter)
            mstore(add(ptr, 0x60), option)
            let structHash := keccak256(ptr, 0x80)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    // ---------------------------------------------------------------- proxy ballots: internals

    /// @dev What a proxy-ballot batch reads once: roll indexes of voters and proxies at the
    /// snapshot, each voter's mandated proxy for this proposal, the proxy limit, the digests.
    struct ProxyBatch {
        uint256[] voterIndexes;
        uint256[] proxyIndexes;
        address[] mandated;
        uint256 limit;
        bytes32[] digests;
    }

    function _proxyBatch(Proposal storage p, uint256 proposalId, SignedProxyBallot[] calldata ballots)
        private
        view
        returns (ProxyBatch memory batch)
    {
        uint256 n = ballots.length;
        address[] memory voters = new address[](n);
        address[] memory proxies = new address[](n);
        batch.digests = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            voters[i] = ballots[i].voter;
            proxies[i] = ballots[i].proxy;
            batch.digests[i] = _proxyBallotDigest(proposalId, voters[i], proxies[i], ballots[i].option);
        }
        batch.voterIndexes = _registry.rollIndexesAt(p.communityId, p.rollVersion, voters);
        batch.proxyIndexes = _registry.rollIndexesAt(p.communityId, p.rollVersion, proxies);
        batch.mandated = _mandates.proxiesFor(p.communityId, IMandates.MandateScope.Proposal, proposalId, voters);
        batch.limit = _mandates.proxyLimit(p.communityId);
    }

    /// @dev The first rule ballot `i` breaks, in the order {ICouncil-castProxyBallots} lists them.
    function _proxyBallotFault(
        Proposal storage p,
        uint256 proposalId,
        SignedProxyBallot calldata b,
        ProxyBatch memory batch,
        uint256 i
    ) private view returns (bool ok, ProxyBallotSkipReason reason) {
        if (b.option >= p.optionCount) return (false, ProxyBallotSkipReason.InvalidOption);
        bytes32 s = b.vs & bytes32(type(uint256).max >> 1);
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (uint256(s) > HALF_N) return (false, ProxyBallotSkipReason.MalleableSignature);
        address signer = ecrecover(batch.digests[i], uint8((uint256(b.vs) >> 255) + 27), b.r, s);
        if (signer == address(0) || signer != b.proxy) return (false, ProxyBallotSkipReason.BadSignature);
        if (batch.voterIndexes[i] == 0) return (false, ProxyBallotSkipReason.NotOnRoll);
        if (batch.proxyIndexes[i] == 0) return (false, ProxyBallotSkipReason.ProxyNotOnRoll);
        if (batch.mandated[i] != b.proxy) return (false, ProxyBallotSkipReason.NoMandate);
        uint256 index = batch.voterIndexes[i] - 1;
        uint256 word = _ballotBox(p, proposalId)[index / BOX_BITS];
        if (word >> BOX_BITS == proposalId && word & (1 << (index % BOX_BITS)) != 0) {
            uint256 record = _proxyBallots[proposalId][b.voter];
            bool byProxy = record != 0 && record & PROXY_OVERRIDDEN == 0;
            return (false, byProxy ? ProxyBallotSkipReason.AlreadyVotedByProxy : ProxyBallotSkipReason.VotedThemself);
        }
        // Checked here as well as at appointment: see IMandates on why both.
        if (_proxyBallotsBy[proposalId][b.proxy] >= batch.limit) return (false, ProxyBallotSkipReason.ProxyOverLimit);
        return (true, reason);
    }

    function _countProxyBallot(
        Proposal storage p,
        uint256 proposalId,
        SignedProxyBallot calldata b,
        bytes32 digest,
        uint256 index
    ) private {
        _markVoted(_ballotBox(p, proposalId), proposalId, index);
        _proxyBallots[proposalId][b.voter] = uint256(uint160(b.proxy)) | (uint256(b.option) << 160);
        ++_proxyBallotsBy[proposalId][b.proxy];
        unchecked {
            // At most the roll size (< 2^32) ballots per lane and in all.
            p.tally += 1 << (uint256(b.option) * 32);
            ++p.proxyBallots;
        }
        emit ProxyBallotCast(proposalId, b.voter, b.proxy, b.option, digest);
    }

    function _skipProxyBallot(uint256 proposalId, SignedProxyBallot calldata b, ProxyBallotSkipReason reason)
        private
    {
        emit ProxyBallotSkipped(proposalId, b.voter, b.proxy, reason);
    }

    /// @dev `voter`'s own ballot on `option` takes the place of their live proxy ballot, if any.
    function _overrideProxyBallot(Proposal storage p, uint256 proposalId, address voter, uint8 option)
        private
        returns (bool)
    {
        uint256 record = _proxyBallots[proposalId][voter];
        if (record == 0 || record & PROXY_OVERRIDDEN != 0) return false;
        _proxyBallots[proposalId][voter] = record | PROXY_OVERRIDDEN;
        uint8 proxyOption = uint8(record >> 160);
        unchecked {
            // The lane of `proxyOption` holds the ballot being taken out.
            p.tally = p.tally + (1 << (uint256(option) * 32)) - (1 << (uint256(proxyOption) * 32));
            --p.proxyBallots;
        }
        emit ProxyBallotOverridden(proposalId, voter, address(uint160(record)), proxyOption);
        return true;
    }

    /// @dev Takes the overridden proxy ballots (`overridden`: one packed unit per override, on the
    /// proxy's option) out of the tally, which a batch already credited with the voters' own.
    function _settleOverrides(Proposal storage p, uint256 overridden) private {
        unchecked {
            // Each lane of `overridden` counts ballots that are in the tally's same lane.
            p.tally -= overridden;
            uint32 overrides = 0;
            for (uint256 lane = overridden; lane != 0; lane >>= 32) {
                overrides += uint32(lane);
            }
            p.proxyBallots -= overrides;
        }
    }

    function _proxyBallotDigest(uint256 proposalId, address voter, address proxy, uint8 option)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(PROXY_BALLOT_TYPEHASH, proposalId, voter, proxy, option)));
    }

    function _unpack(uint256 packed, uint8 optionCount) private pure returns (uint256[] memory tally) {
        tally = new uint256[](optionCount);
        for (uint256 i; i < optionCount; ++i) {
            tally[i] = uint32(packed >> (i * 32));
        }
    }

    /// @dev The outcome rules of {BallotKind} and {ProposalParams}, in integer arithmetic.
    function _decide(Proposal storage p, uint256[] memory tally)
        private
        view
        returns (Outcome outcome, uint8 winningOption, uint256 turnout)
    {
        uint256 leader = 0;
        bool tie = false;
        for (uint256 i; i < tally.length; ++i) {
            turnout += tally[i];
            if (i == 0 || tally[i] > tally[leader]) {
                (leader, tie) = (i, false);
            } else if (tally[i] == tally[leader]) {
                tie = true;
            }
        }
        winningOption = NO_WINNER;
        if (turnout * BPS < uint256(p.quorumBps) * p.rollSize) return (Outcome.NoQuorum, winningOption, turnout);
        bool passed;
        if (_isYesNo(p.kind)) {
            // Abstentions count for quorum only.
            passed = tally[0] * BPS > uint256(p.thresholdBps) * (tally[0] + tally[1]);
            leader = 0;
        } else {
            passed = !tie && tally[leader] * BPS > uint256(p.thresholdBps) * turnout;
        }
        if (!passed) return (Outcome.Rejected, winningOption, turnout);
        return (Outcome.Passed, uint8(leader), turnout);
    }

    // ---------------------------------------------------------------- secret proposals: internals

    /// @dev The secret kinds are BallotKind's last: one comparison (a direct vote pays it).
    function _isSecret(BallotKind kind) private pure returns (bool) {
        return kind >= BallotKind.SecretYesNoAbstain;
    }

    function _isYesNo(BallotKind kind) private pure returns (bool) {
        return kind == BallotKind.YesNoAbstain || kind == BallotKind.SecretYesNoAbstain;
    }

    /// @dev The conditions of {SecretLinkField}, in its order.
    function _checkSecretVote(Proposal storage p, uint256 proposalId, uint256 voteId) private view {
        ISecretBallot.SecretVoteView memory v = _secretBallot.getSecretVote(voteId);
        SecretLinkField field;
        if (v.communityId != p.communityId) field = SecretLinkField.Community;
        else if (v.questionHash != p.textHash) field = SecretLinkField.Question;
        else if (v.optionCount != p.optionCount) field = SecretLinkField.OptionCount;
        else if (v.opensAt != p.opensAt || v.closesAt != p.closesAt) field = SecretLinkField.Schedule;
        else if (v.rollVersion != p.rollVersion) field = SecretLinkField.Roll;
        else return;
        revert SecretVoteMismatch(proposalId, voteId, field);
    }

    /// @dev The linked secret vote's proven tally, packed as an open tally (32 bits an option: a
    /// count is at most the roll size). Nobody could vote without a link or with a failed key.
    /// Not `published` once the vote has gone SECRET_TALLY_GRACE past its challenge window
    /// without a tally.
    function _secretTally(uint256 proposalId) private view returns (bool published, uint256 packed) {
        uint256 voteId = _secretVotes[proposalId];
        if (voteId == 0) return (true, 0);
        ISecretBallot.SecretVoteView memory v = _secretBallot.getSecretVote(voteId);
        if (v.state == ISecretBallot.SecretVoteState.KeyFailed) return (true, 0);
        if (v.state != ISecretBallot.SecretVoteState.Finalized) {
            if (block.timestamp < v.challengesUntil + SECRET_TALLY_GRACE) revert SecretTallyPending(proposalId, voteId, v.state);
            return (false, 0);
        }
        published = true;
        for (uint256 i; i < v.tally.length; ++i) {
            packed |= v.tally[i] << (i * 32);
        }
    }
}
