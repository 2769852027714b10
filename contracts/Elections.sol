// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IElectionProxies} from "./interfaces/IElectionProxies.sol";
import {IElections} from "./interfaces/IElections.sol";
import {IPollOffice} from "./interfaces/IPollOffice.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {RANKING_DIGITS, RANKING_ONES, RANKING_PLACES, RankingCode} from "./libraries/RankingCode.sol";
import {ROLL_SNAPSHOT_LIFETIME} from "./libraries/RollRecord.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title Elections
/// @notice Ranked and approval elections of Commons Ledger communities: signed ballots relayed in
/// batches, stored for a count that anyone advances step by step on-chain.
/// @dev Gas layout: what a ballot needs sits in one election word; double votes are caught by the
/// election's ballot box (a bitmap keyed by the resident's stable roll index); eligibility for a
/// whole batch is one call into the Registry. A ranked ballot is appended, as its RankingCode, to
/// a packed array (in the order counted) that the count walks with a cursor, once per round:
/// 10,000 ballots of 10 ranks are 910 words, so a round or two fits a transaction and nothing has
/// to be rewritten when a candidate is eliminated. An
/// approval ballot is added to packed tallies (32 bits per candidate), written once per batch.
/// Measured in bench/gas_elections.py.
contract Elections is IElections, EIP712, ERC2771Context {
    /// @inheritdoc IElections
    uint8 public constant MAX_CANDIDATES = 16;
    /// @inheritdoc IElections
    uint8 public constant NONE = type(uint8).max;
    /// @inheritdoc IElections
    bytes32 public constant BALLOT_TYPEHASH = keccak256("ElectionBallot(uint256 electionId,address voter,uint64 choices)");

    bytes32 private constant COMMITTEE = keccak256("COMMITTEE");
    /// @dev Ballot areas that ranked elections reuse once their holder is counted; more ranked
    /// elections uncounted at once give the extra ones an area of their own.
    uint256 private constant SHARED_AREAS = 8;
    /// @dev Marks, in a batch's roll index list, a voter already in the ballot box.
    uint256 private constant REPEAT = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
    /// @dev A batch's roll index list entry: the roll index + 1 (0: not on the roll) in its low
    /// 192 bits; then, from {_markEncodingFaults}, the ranking's code in bits 192-247 and the
    /// encoding fault (an ElectionSkipReason, 0 for none) in the top byte.
    uint256 private constant INDEX_BITS = (1 << 192) - 1;

    /// @dev Laid out by word: a ballot batch reads word 0 and writes word 1 (ranked) or the tally
    /// words (approval); a count step reads and writes words 1, 3 and 4.
    struct Election {
        // word 0: all a ballot needs
        uint64 communityId;
        uint32 rollVersion;
        uint32 rollSize;
        uint40 opensAt;
        uint40 closesAt;
        uint8 candidateCount;
        uint8 seats;
        ElectionKind kind;
        uint8 maxChoices;
        bool counted;
        uint8 ballotsPerWord; // ranked: RankingCode.perWord of the election's base
        // word 1: ballots held and where the count is
        uint32 ballotCount;
        uint32 cursor; // next stored ballot the count reads
        uint8 seatsFilled;
        uint8 round; // 0 before the count; else the round in progress for seat seatsFilled + 1
        uint8 lastEliminated;
        uint16 eliminated; // bitmap, for the seat being counted
        uint16 elected; // bitmap
        uint120 winners; // 8 bits per seat, in the order filled
        uint8 area; // ranked: 0, an area of its own; k > 0, the shared area k - 1
        // word 2
        address opener;
        // words 3-4: approval: approvals per candidate; ranked: the round in progress so far.
        // 32 bits per candidate, candidates 0-7 in the first word, 8-15 in the second.
        uint256[2] tally;
        // words 5-6: ranked: the last completed round (same packing).
        uint256[2] lastRound;
    }

    IRegistry private immutable _registry;
    /// @dev In-person ballots: the PollOffice checks the officers' signatures and roles and hands
    /// the ballots in here, where one ballot box per election keeps one ballot per resident across
    /// channels. It is a contract of its own so that officers, boxes and their rules grow there,
    /// not here (EIP-170); Elections trusts it for one thing: a ballot it vouches for needs no
    /// voter's signature.
    IPollOffice private immutable _pollOffice;
    uint256 private _electionCount;
    mapping(uint256 electionId => Election) private _elections;
    mapping(uint256 electionId => bytes32[]) private _candidates;
    /// @dev Who voted: bit `i % BOX_BITS` of word `i / BOX_BITS` for roll index `i`; bit 255 of a
    /// word is its primer (see {_primeStorage}), never a voter's.
    mapping(uint256 electionId => mapping(uint256 word => uint256)) private _boxes;
    /// @dev Ranked ballots: ballot `i`'s RankingCode is digit `i % perWord` (in base
    /// RankingCode.base) of word `i / perWord`, where perWord = the election's ballotsPerWord, in
    /// an area of the election's own or in a
    /// shared one. A shared area is handed to the next ranked election once its holder is
    /// counted: its words are then rewritten nonzero to nonzero (5,000 gas) instead of zero to
    /// nonzero (22,100). Every word is written whole from its first ballot on, and the count
    /// reads only the words and positions below the election's ballot count, so nothing an
    /// earlier holder left is ever read.
    mapping(uint256 electionId => mapping(uint256 word => uint256)) private _ballots;
    mapping(uint256 area => mapping(uint256 word => uint256)) private _sharedBallots;
    /// @dev The election holding each shared area (0: never used).
    uint256[SHARED_AREAS] private _areaHolders;
    /// @dev Residents assigned to a paper box, by roll index as in `_boxes`, where their bit is
    /// set too: the ballot loop skips them as voters at no extra cost and reads this only to name
    /// the reason.
    mapping(uint256 electionId => mapping(uint256 word => uint256)) private _paperVoters;

    // ---------------------------------------------------------------- proxy ballots: state
    /// @dev ElectionProxies checks the mandate, the proxy's signature and the proxy limit, and
    /// hands each proxy ballot in through {castProxyBallot}; Elections trusts it for that.
    IElectionProxies private immutable _electionProxies;
    /// @dev A live proxy ballot: the proxy (low 160 bits), its choices (next 64) and, ranked,
    /// its position among the stored ballots (top 32). Deleted when the voter's own replaces it.
    mapping(uint256 electionId => mapping(address voter => uint256 record)) private _proxyBallots;
    mapping(uint256 electionId => uint256) private _proxyBallotCount;
    mapping(uint256 electionId => mapping(address proxy => uint256)) private _proxyBallotsBy;

    /// @notice Wires the elections to their forwarder and to the Registry they read rolls and roles from.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    /// @param registry_ The Registry holding communities, roles and rolls.
    /// @param pollOffice_ The PollOffice, trusted to vouch for in-person ballots (its address is
    /// known before it is deployed: see ledger/deploy.py).
    /// @param electionProxies_ The ElectionProxies, trusted to hand in checked proxy ballots
    /// (likewise known before it is deployed).
    constructor(address trustedForwarder, address registry_, address pollOffice_, address electionProxies_)
        EIP712("CommonsElections", "1")
        ERC2771Context(trustedForwarder)
    {
        _registry = IRegistry(registry_);
        _pollOffice = IPollOffice(pollOffice_);
        _electionProxies = IElectionProxies(electionProxies_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IElections
    function openElection(ElectionParams calldata params) external returns (uint256 electionId) {
        address opener = _msgSender();
        uint256 communityId = params.communityId;
        if (!_registry.hasRole(communityId, COMMITTEE, opener)) revert NotCommittee(communityId, opener);
        _checkParams(params);
        (uint32 rollVersion, uint32 rollSize) = _registry.rollSnapshot(communityId);
        if (rollSize == 0) revert EmptyRoll(communityId);

        electionId = ++_electionCount;
        Election storage e = _elections[electionId];
        // A committee member exists, so the community does, so its id is below the Registry's count.
        e.communityId = uint64(communityId);
        e.rollVersion = rollVersion;
        e.rollSize = rollSize;
        e.opensAt = uint40(params.opensAt);
        e.closesAt = uint40(params.closesAt);
        e.candidateCount = uint8(params.candidates.length);
        e.seats = params.seats;
        e.kind = params.kind;
        e.maxChoices = params.maxChoices;
        e.opener = opener;
        if (params.kind == ElectionKind.Ranked) {
            e.area = _takeArea(electionId);
            // At least 2 candidates and 1 choice: a base of at least 3, at most 161 codes a word.
            e.ballotsPerWord = uint8(RankingCode.perWord(RankingCode.base(params.candidates.length, params.maxChoices)));
        }
        _primeStorage(electionId, e, rollSize);
        _candidates[electionId] = params.candidates;
        emit ElectionOpened(electionId, communityId, opener, params, rollVersion, rollSize);
    }

    /// @inheritdoc IElections
    function castElectionBallots(uint256 electionId, SignedElectionBallot[] calldata ballots) external returns (uint256 counted) {
        return _cast(electionId, ballots, false);
    }

    /// @inheritdoc IElections
    function castInPersonBallots(uint256 electionId, SignedElectionBallot[] calldata ballots)
        external
        returns (uint256 counted)
    {
        if (msg.sender != address(_pollOffice)) revert NotPollOffice(msg.sender);
        return _cast(electionId, ballots, true);
    }

    /// @dev Both channels' batches: `vouched` ballots skip the voter's signature check.
    function _cast(uint256 electionId, SignedElectionBallot[] calldata ballots, bool vouched)
        private
        returns (uint256 counted)
    {
        Election storage e = _existing(electionId);
        uint256 n = ballots.length;
        if (_state(e) != ElectionState.Open) {
            for (uint256 i; i < n; ++i) {
                emit ElectionBallotSkipped(electionId, ballots[i].voter, ElectionSkipReason.ElectionNotOpen);
            }
            return 0;
        }
        uint256[] memory indexesPlusOne = _rollIndexes(e, ballots);
        uint256 ctx = _batchContext(electionId, e, n);
        mapping(uint256 => uint256) storage paper = _paperVoters[electionId];
        // A repeat pays for proxies only where there are live proxy ballots to replace.
        bool proxied = _proxyBallotCount[electionId] != 0;
        assembly ("memory-safe") {
            mstore(add(ctx, 0x320), vouched)
            mstore(add(ctx, 0x340), paper.slot)
            mstore(add(ctx, 0x360), proxied)
        }
        uint256 lanesLow;
        uint256 lanesHigh;
        (counted, lanesLow, lanesHigh) = _countBallots(ctx, ballots, indexesPlusOne);
        if (counted != 0) {
            assembly ("memory-safe") {
                mstore(add(ctx, 0x3c0), counted)
                log2(add(ctx, 0x3a0), shl(5, add(counted, 2)), mload(add(ctx, 0x180)), electionId)
            }
            if (e.kind == ElectionKind.Ranked) {
                _flushBallotWord(ctx);
                // The roll size (< 2^32) bounds the ballots held.
                e.ballotCount += uint32(counted);
            } else {
                unchecked {
                    // A lane holds at most the roll size (< 2^32) approvals, so it never carries over.
                    e.tally[0] += lanesLow;
                    e.tally[1] += lanesHigh;
                }
            }
        }
        // After the flush: a replaced ranked ballot may sit in the word the batch was filling.
        if (proxied) counted += _replaceProxyBallots(electionId, e, ballots, indexesPlusOne);
    }

    // ---------------------------------------------------------------- paper boxes

    /// @inheritdoc IElections
    function assignPaperVoters(uint256 electionId, address[] calldata voters) external {
        if (msg.sender != address(_pollOffice)) revert NotPollOffice(msg.sender);
        Election storage e = _existing(electionId);
        if (_state(e) != ElectionState.Pending) revert PaperBoxTooLate(electionId, uint64(e.opensAt));
        uint256[] memory indexesPlusOne = _registry.rollIndexesAt(e.communityId, e.rollVersion, voters);
        mapping(uint256 => uint256) storage box = _boxes[electionId];
        mapping(uint256 => uint256) storage paper = _paperVoters[electionId];
        for (uint256 i; i < voters.length; ++i) {
            if (indexesPlusOne[i] == 0) revert PaperVoterNotOnRoll(electionId, voters[i]);
            uint256 index = indexesPlusOne[i] - 1;
            uint256 word = index / BOX_BITS;
            uint256 bit = 1 << (index % BOX_BITS);
            // Nobody votes before opening, so a set bit is an earlier assignment.
            if (box[word] & bit != 0) revert PaperVoterAssigned(electionId, voters[i]);
            box[word] |= bit;
            paper[word] |= bit;
        }
    }

    /// @inheritdoc IElections
    function castPaperBallots(uint256 electionId, uint256 boxId, uint64[] calldata choices, uint32[] calldata counts)
        external
        returns (uint256 ballots)
    {
        if (msg.sender != address(_pollOffice)) revert NotPollOffice(msg.sender);
        Election storage e = _existing(electionId);
        if (_state(e) != ElectionState.Open) revert PaperTotalsOutsideVoting(electionId);
        ballots = e.kind == ElectionKind.Ranked
            ? _storePaperBallots(e, electionId, choices, counts)
            : _tallyPaperApprovals(e, choices, counts);
        for (uint256 i; i < choices.length; ++i) {
            emit PaperBallotsCast(electionId, boxId, choices[i], counts[i]);
        }
    }

    /// @dev Appends each ranked pattern `counts[i]` times to the packed ballots, each word written once.
    function _storePaperBallots(
        Election storage e,
        uint256 electionId,
        uint64[] calldata choices,
        uint32[] calldata counts
    ) private returns (uint256 ballots) {
        uint256[] memory codes = new uint256[](choices.length);
        for (uint256 i; i < choices.length; ++i) {
            codes[i] = RankingCode.encode(choices[i], e.candidateCount, e.maxChoices);
        }
        uint256 next = e.ballotCount;
        uint256 end = _appendCopies(e, _ballotWords(e, electionId), codes, counts, next);
        ballots = end - next;
        // The box's residents are on the roll (< 2^32) and vote in no other channel.
        e.ballotCount = uint32(end);
    }

    /// @dev Appends `codes[i]` `counts[i]` times from stored ballot `next` on; returns the end.
    function _appendCopies(
        Election storage e,
        mapping(uint256 => uint256) storage words,
        uint256[] memory codes,
        uint32[] calldata counts,
        uint256 next
    ) private returns (uint256) {
        (uint256 codeBase, uint256 perWord) = _ballotPacking(e);
        uint256 filling = next % perWord != 0 ? words[next / perWord] : 0;
        uint256 weight = codeBase ** (next % perWord);
        for (uint256 i; i < codes.length; ++i) {
            for (uint256 j = counts[i]; j > 0; --j) {
                filling += codes[i] * weight;
                weight *= codeBase;
                ++next;
                if (next % perWord == 0) {
                    words[next / perWord - 1] = filling;
                    filling = 0;
                    weight = 1;
                }
            }
        }
        if (next % perWord != 0) words[next / perWord] = filling;
        return next;
    }

    /// @dev Adds `counts[i]` approvals to every candidate pattern `choices[i]` approves.
    function _tallyPaperApprovals(Election storage e, uint64[] calldata choices, uint32[] calldata counts)
        private
        returns (uint256 ballots)
    {
        uint256[2] memory lanes = e.tally;
        for (uint256 i; i < choices.length; ++i) {
            ballots += counts[i];
            for (uint256 c; c < MAX_CANDIDATES; ++c) {
                if (choices[i] & (1 << c) != 0) lanes[c / 8] += uint256(counts[i]) << ((c % 8) * 32);
            }
        }
        e.tally = lanes;
    }

    /// @inheritdoc IElections
    function countStep(uint256 electionId, uint256 maxBallots) external returns (bool done) {
        Election storage e = _existing(electionId);
        if (e.counted) revert AlreadyCounted(electionId);
        if (block.timestamp < e.closesAt) revert ElectionNotClosed(electionId, e.closesAt);
        if (maxBallots == 0) revert EmptyCountStep();
        if (e.kind == ElectionKind.Approval) {
            _countApproval(electionId, e);
            return true;
        }
        return _countRanked(electionId, e, maxBallots);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IElections
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IElections
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IElections
    function pollOffice() external view returns (address) {
        return address(_pollOffice);
    }

    /// @inheritdoc IElections
    function electionCount() external view returns (uint256) {
        return _electionCount;
    }

    /// @inheritdoc IElections
    function getElection(uint256 electionId) external view returns (ElectionView memory view_) {
        Election storage e = _existing(electionId);
        view_.communityId = e.communityId;
        view_.opener = e.opener;
        view_.candidates = _candidates[electionId];
        view_.seats = e.seats;
        view_.kind = e.kind;
        view_.maxChoices = e.maxChoices;
        view_.opensAt = e.opensAt;
        view_.closesAt = e.closesAt;
        view_.rollVersion = e.rollVersion;
        view_.rollSize = e.rollSize;
        view_.state = _state(e);
        view_.ballotCount = e.ballotCount;
        view_.tally = _unpack(e.kind == ElectionKind.Approval ? e.tally : e.lastRound, e.candidateCount);
        uint8 filled = e.seatsFilled;
        view_.winners = new uint8[](filled);
        for (uint256 s; s < filled; ++s) {
            view_.winners[s] = uint8(e.winners >> (8 * s));
        }
        view_.seatsFilled = filled;
        view_.round = e.round;
    }

    /// @inheritdoc IElections
    function state(uint256 electionId) external view returns (ElectionState) {
        return _state(_existing(electionId));
    }

    /// @inheritdoc IElections
    function hasVoted(uint256 electionId, address voter) external view returns (bool) {
        _existing(electionId);
        (bool assigned, uint32 index) = _registry.residentIndex(_elections[electionId].communityId, voter);
        if (!assigned) return false;
        // A paper box's resident holds a bit from assignment, not from a ballot.
        uint256 word = index / BOX_BITS;
        uint256 marked = _boxes[electionId][word] & ~_paperVoters[electionId][word];
        return marked & (1 << (index % BOX_BITS)) != 0;
    }

    /// @inheritdoc IElections
    function storedBallots(uint256 electionId, uint256 start, uint256 count)
        external
        view
        returns (uint64[] memory ballots)
    {
        Election storage e = _existing(electionId);
        uint256 area = e.area;
        if (area != 0 && _areaHolders[area - 1] != electionId) revert BallotsRecycled(electionId);
        uint256 held = e.ballotCount;
        uint256 end = start + count > held ? held : start + count;
        ballots = new uint64[](end > start ? end - start : 0);
        (uint256 codeBase, uint256 perWord) = _ballotPacking(e);
        mapping(uint256 => uint256) storage words = _ballotWords(e, electionId);
        for (uint256 i = start; i < end; ++i) {
            uint256 code = (words[i / perWord] / codeBase ** (i % perWord)) % codeBase;
            ballots[i - start] = RankingCode.decode(code, e.candidateCount, e.maxChoices);
        }
    }

    /// @inheritdoc IElections
    function ballotDigest(uint256 electionId, address voter, uint64 choices) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BALLOT_TYPEHASH, electionId, voter, choices)));
    }

    // ---------------------------------------------------------------- internals: opening

    function _existing(uint256 electionId) private view returns (Election storage e) {
        e = _elections[electionId];
        if (e.communityId == 0) revert UnknownElection(electionId);
    }

    function _state(Election storage e) private view returns (ElectionState) {
        if (e.counted) return ElectionState.Counted;
        if (block.timestamp < e.opensAt) return ElectionState.Pending;
        if (block.timestamp < e.closesAt) return ElectionState.Open;
        return ElectionState.Closed;
    }

    function _checkParams(ElectionParams calldata params) private view {
        uint256 count = params.candidates.length;
        if (count < 2 || count > MAX_CANDIDATES) revert InvalidCandidateCount(count);
        for (uint256 i; i < count; ++i) {
            if (params.candidates[i] == bytes32(0)) revert MissingCandidateHash(i);
        }
        if (params.seats == 0 || params.seats >= count) revert InvalidSeats(params.seats, count);
        if (params.maxChoices == 0 || params.maxChoices > count) revert InvalidMaxChoices(params.maxChoices, count);
        // The closing bound keeps every snapshot within the Registry's history guarantee.
        if (
            params.opensAt >= params.closesAt || params.closesAt <= block.timestamp
                || params.closesAt > block.timestamp + ROLL_SNAPSHOT_LIFETIME
        ) revert InvalidSchedule(params.opensAt, params.closesAt, block.timestamp);
    }

    /// @dev Hands the first free shared area (never used, or held by a counted election) to
    /// `electionId`; 0 if all are busy.
    function _takeArea(uint256 electionId) private returns (uint8) {
        for (uint256 k; k < SHARED_AREAS; ++k) {
            uint256 holder = _areaHolders[k];
            if (holder == 0 || _elections[holder].counted) {
                _areaHolders[k] = electionId;
                return uint8(k + 1);
            }
        }
        return 0;
    }

    /// @dev Where `electionId`'s ranked ballots are stored.
    function _ballotWords(Election storage e, uint256 electionId)
        private
        view
        returns (mapping(uint256 word => uint256) storage)
    {
        uint256 area = e.area;
        return area == 0 ? _ballots[electionId] : _sharedBallots[area - 1];
    }

    /// @dev A ranked election's stored ballots: codes below `codeBase`, `perWord` to a word as
    /// base-`codeBase` digits, lowest first (see RankingCode).
    function _ballotPacking(Election storage e) private view returns (uint256 codeBase, uint256 perWord) {
        return (RankingCode.base(e.candidateCount, e.maxChoices), e.ballotsPerWord);
    }

    // ---------------------------------------------------------------- internals: primed storage

    /// @dev Voters per ballot box word: the top bit is left to the primer.
    uint256 private constant BOX_BITS = 255;
    /// @dev What opening writes in each word of a ballot box: nonzero, and naming no voter.
    uint256 private constant BOX_PRIMED = 1 << 255;
    /// @dev What opening writes in a ranked ballot word that reads zero. Never read as ballots:
    /// every word is written whole from its first ballot on (see `_ballots`).
    uint256 private constant BALLOTS_PRIMED = 1;
    /// @dev The most words opening primes in the box (16,320 voters) and in the ballot words
    /// (704 ballots of 10 ranks of 10, 1,664 of 3 of 10): about 1.4 M gas each at most, once per
    /// election.
    uint256 private constant PRIMED_WORDS_MAX = 64;

    /// @dev Writes, at opening, the words the first ballot batches will write, so that none of
    /// them writes a zero word (22,100 gas instead of 5,000): the ballot box's words for the
    /// roll's first indexes, and a ranked election's first ballot words that read zero (an area
    /// never used before; a reused area's words are nonzero already). Bounded by
    /// PRIMED_WORDS_MAX; past it, batches pay for fresh words as before.
    function _primeStorage(uint256 electionId, Election storage e, uint256 rollSize) private {
        mapping(uint256 => uint256) storage box = _boxes[electionId];
        uint256 words = _min((rollSize + BOX_BITS - 1) / BOX_BITS, PRIMED_WORDS_MAX);
        for (uint256 w; w < words; ++w) {
            box[w] = BOX_PRIMED;
        }
        if (e.kind != ElectionKind.Ranked) return;
        mapping(uint256 => uint256) storage ballots = _ballotWords(e, electionId);
        uint256 perWord = e.ballotsPerWord;
        words = _min((rollSize + perWord - 1) / perWord, PRIMED_WORDS_MAX);
        for (uint256 w; w < words; ++w) {
            if (ballots[w] == 0) ballots[w] = BALLOTS_PRIMED;
        }
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    // ---------------------------------------------------------------- internals: ballots

    /// @dev Eligibility of every ballot's voter at the election's snapshot, in one Registry call.
    function _rollIndexes(Election storage e, SignedElectionBallot[] calldata ballots) private view returns (uint256[] memory) {
        uint256 n = ballots.length;
        address[] memory voters = new address[](n);
        for (uint256 i; i < n; ++i) {
            voters[i] = ballots[i].voter;
        }
        return _registry.rollIndexesAt(e.communityId, e.rollVersion, voters);
    }

    /// @dev Scratch memory for {_countBallots}: what every ballot of a batch shares, laid out so
    /// that each hash and the ecrecover input are contiguous:
    ///   0x000 BALLOT_TYPEHASH | 0x020 electionId | 0x040 voter | 0x060 choices  (struct hash input)
    ///   0x080 0x1901 | 0x082 domain separator | 0x0a2 struct hash               (digest input)
    ///   0x0e0 event word | 0x100 digest | 0x120 v | 0x140 r | 0x160 s            (ecrecover input)
    ///   0x180 ElectionBallotsCast topic | 0x1a0 ElectionBallotSkipped topic | 0x1c0 candidateCount
    ///   0x1e0 the ballot box's slot | 0x200 maxChoices | 0x220 kind (0 ranked, 1 approval)
    ///   0x240 the ballot words' slot | 0x260 the ranking codes' base | 0x280 ballots per word
    ///   0x2a0 position of the next ballot stored | 0x2c0 the word being filled
    ///   0x2e0, 0x300 approvals added by the batch (packed tallies of candidates 0-7, 8-15)
    ///   0x320 1 if the poll office vouches for the batch (no voter signatures), else 0 (set by {_cast})
    ///   0x340 the paper-box residents' slot (set by {_cast})
    ///   0x360 1 if the election holds live proxy ballots, else 0 (set by {_cast})
    ///   0x380 the weight of the next ballot's digit in the word being filled (base ** its place)
    ///   0x3a0 {ElectionBallotsCast}'s data, ABI-encoded uint256[]: 0x20, the count, then an
    ///         entry per counted ballot (room for `n`)
    function _batchContext(uint256 electionId, Election storage e, uint256 n) private view returns (uint256 ctx) {
        bytes32 typeHash = BALLOT_TYPEHASH;
        bytes32 domainSeparator = _domainSeparatorV4();
        bytes32 castTopic = ElectionBallotsCast.selector;
        bytes32 skipTopic = ElectionBallotSkipped.selector;
        mapping(uint256 => uint256) storage box = _boxes[electionId];
        uint256 candidateCount = e.candidateCount;
        uint256 maxChoices = e.maxChoices;
        uint256 kind = uint256(e.kind);
        assembly ("memory-safe") {
            ctx := mload(0x40)
            mstore(0x40, add(ctx, add(0x3e0, shl(5, n))))
            mstore(add(ctx, 0x3a0), 0x20)
            mstore(ctx, typeHash)
            mstore(add(ctx, 0x20), electionId)
            mstore(add(ctx, 0x80), hex"1901")
            mstore(add(ctx, 0x82), domainSeparator)
            mstore(add(ctx, 0x180), castTopic)
            mstore(add(ctx, 0x1a0), skipTopic)
            mstore(add(ctx, 0x1c0), candidateCount)
            mstore(add(ctx, 0x1e0), box.slot)
            mstore(add(ctx, 0x200), maxChoices)
            mstore(add(ctx, 0x220), kind)
            mstore(add(ctx, 0x2e0), 0)
            mstore(add(ctx, 0x300), 0)
        }
        if (kind == 0) _rankedContext(ctx, electionId, e);
    }

    /// @dev {_batchContext}'s ranked part: where and how the batch appends its ballots.
    function _rankedContext(uint256 ctx, uint256 electionId, Election storage e) private view {
        mapping(uint256 => uint256) storage words = _ballotWords(e, electionId);
        (uint256 codeBase, uint256 perWord) = _ballotPacking(e);
        uint256 next = e.ballotCount;
        uint256 filling;
        uint256 weight = 1;
        // A partly filled last word is carried on; the batch adds to it.
        if (next % perWord != 0) {
            filling = words[next / perWord];
            weight = codeBase ** (next % perWord);
        }
        assembly ("memory-safe") {
            mstore(add(ctx, 0x240), words.slot)
            mstore(add(ctx, 0x260), codeBase)
            mstore(add(ctx, 0x280), perWord)
            mstore(add(ctx, 0x2a0), next)
            mstore(add(ctx, 0x2c0), filling)
            mstore(add(ctx, 0x380), weight)
        }
    }

    /// @dev Writes the partly filled last ballot word a batch leaves behind.
    function _flushBallotWord(uint256 ctx) private {
        uint256 slot;
        uint256 next;
        uint256 perWord;
        uint256 filling;
        assembly ("memory-safe") {
            slot := mload(add(ctx, 0x240))
            perWord := mload(add(ctx, 0x280))
            next := mload(add(ctx, 0x2a0))
            filling := mload(add(ctx, 0x2c0))
        }
        if (next % perWord == 0) return; // the loop wrote every full word
        assembly ("memory-safe") {
            mstore(0x00, div(next, perWord))
            mstore(0x20, slot)
            sstore(keccak256(0x00, 0x40), filling)
        }
    }

    /// @dev Marks each ballot's encoding fault (ElectionSkipReason, by the rules of IElections
    /// for the election's kind) in the top byte of its roll index entry, which is below 2^32, and
    /// a valid ranking's code in bits 192-247 (see INDEX_BITS). Malformed calldata (dirty high
    /// bits) reverts, as the ABI decoder would.
    function _markEncodingFaults(uint256 ctx, SignedElectionBallot[] calldata ballots, uint256[] memory indexesPlusOne)
        private
        pure
    {
        assembly ("memory-safe") {
            // 0 if `choices` is a valid ranking, else the reason (see IElections); and, when
            // valid, its RankingCode: one pass to the end of the ranking, collecting who is
            // ranked, whether anyone twice, and each rank's digit plus one (byte `candidate` of
            // `digits`) times its weight. An invalid ranking's code is never used.
            function rankingFault(c, choices) -> fault, code {
                let count := mload(add(c, 0x1c0))
                let prev := and(choices, 15)
                let seen := shl(prev, 1)
                let repeated := 0
                let rest := shr(4, choices)
                let length := 1
                code := add(prev, 1)
                let weight := count
                let digits := sub(RANKING_DIGITS, shr(shl(3, add(prev, 1)), RANKING_ONES))
                for {} lt(length, 16) {} {
                    let candidate := and(rest, 15)
                    if eq(candidate, prev) { break }
                    let bit := shl(candidate, 1)
                    repeated := or(repeated, and(seen, bit))
                    seen := or(seen, bit)
                    code := add(code, mul(byte(candidate, digits), weight))
                    weight := mul(weight, sub(count, length))
                    digits := sub(digits, shr(shl(3, add(candidate, 1)), RANKING_ONES))
                    prev := candidate
                    rest := shr(4, rest)
                    length := add(length, 1)
                }
                if shr(mload(add(c, 0x1c0)), seen) {
                    fault := 1
                    leave
                }
                // After the ranking, every nibble repeats its last candidate.
                if or(repeated, iszero(eq(rest, mul(prev, shr(shl(2, length), 0x1111111111111111))))) {
                    fault := 2
                    leave
                }
                if gt(length, mload(add(c, 0x200))) { fault := 3 }
            }
            // 0 if `choices` is a valid approval set, else the reason (see IElections).
            function approvalFault(c, choices) -> fault {
                if iszero(choices) {
                    fault := 4
                    leave
                }
                if shr(mload(add(c, 0x1c0)), choices) {
                    fault := 1
                    leave
                }
                // Bits set in a 16-bit word.
                let x := sub(choices, and(shr(1, choices), 0x5555))
                x := add(and(x, 0x3333), and(shr(2, x), 0x3333))
                x := and(add(x, shr(4, x)), 0x0f0f)
                x := and(add(x, shr(8, x)), 0x1f)
                if gt(x, mload(add(c, 0x200))) { fault := 3 }
            }
            let ranked := iszero(mload(add(ctx, 0x220)))
            let out := add(indexesPlusOne, 0x20)
            for {
                let src := ballots.offset
                let end := add(src, shl(7, ballots.length)) // a SignedElectionBallot is 4 static words
            } lt(src, end) {
                src := add(src, 0x80)
                out := add(out, 0x20)
            } {
                let choices := calldataload(add(src, 0x20))
                if or(shr(160, calldataload(src)), shr(64, choices)) { revert(0, 0) }
                let fault := 0
                let code := 0
                switch ranked
                case 1 { fault, code := rankingFault(ctx, choices) }
                default { fault := approvalFault(ctx, choices) }
                if fault { code := 0 }
                mstore(out, or(mload(out), or(shl(248, fault), shl(192, code))))
            }
        }
    }

    /// @dev The relayed-ballot loop. For each ballot, in this order: the encoding, the EIP-712
    /// digest, a low-s signature by the named voter, on the roll at the snapshot, not yet voted;
    /// then the ballot stored (ranked) or its approvals added (approval) and its entry appended to
    /// the batch's {ElectionBallotsCast} (which {_cast} emits, when any counted), or
    /// {ElectionBallotSkipped} with the first rule broken (reasons are ElectionSkipReason's values). In assembly
    /// for the reasons Council's loop gives: it runs for every ballot.
    /// Returns the ballots counted and, for approval, the increments of the packed tallies.
    function _countBallots(uint256 ctx, SignedElectionBallot[] calldata ballots, uint256[] memory indexesPlusOne)
        private
        returns (uint256 counted, uint256 lanesLow, uint256 lanesHigh)
    {
        _markEncodingFaults(ctx, ballots, indexesPlusOne);
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
                    fault := 6
                    leave
                }
                mstore(add(c, 0x120), add(shr(255, vs), 27))
                mstore(add(c, 0x140), calldataload(add(src, 0x40)))
                mstore(add(c, 0x160), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, add(c, 0x100), 0x80, 0x00, 0x20))
                let signer := mload(0x00)
                if or(iszero(signer), iszero(eq(signer, voter))) { fault := 5 }
            }
            // Sets roll index `index`'s bit in the election's ballot box; if it was set, skips the
            // voter: AssignedToPaperBox if the bit is a paper box resident's, else AlreadyVoted.
            function mark(c, index, voter) -> marked {
                mstore(0x00, div(index, BOX_BITS))
                mstore(0x20, mload(add(c, 0x1e0)))
                let slot := keccak256(0x00, 0x40)
                let bits := sload(slot)
                let bit := shl(mod(index, BOX_BITS), 1)
                if iszero(and(bits, bit)) { sstore(slot, or(bits, bit)) marked := 1 leave }
                mstore(0x20, mload(add(c, 0x340)))
                if and(sload(keccak256(0x00, 0x40)), bit) { skip(c, 9, voter) leave }
                if mload(add(c, 0x360)) { marked := 2 leave }
                skip(c, 8, voter)
            }
            // Appends a ranking's code to the packed ballot array as the next base-`base` digit,
            // writing each word once, when it fills.
            function store(c, code) {
                let next := mload(add(c, 0x2a0))
                let perWord := mload(add(c, 0x280))
                let weight := mload(add(c, 0x380))
                let filling := add(mload(add(c, 0x2c0)), mul(code, weight))
                weight := mul(weight, mload(add(c, 0x260)))
                if eq(add(mod(next, perWord), 1), perWord) {
                    mstore(0x00, div(next, perWord))
                    mstore(0x20, mload(add(c, 0x240)))
                    sstore(keccak256(0x00, 0x40), filling)
                    filling := 0
                    weight := 1
                }
                mstore(add(c, 0x2c0), filling)
                mstore(add(c, 0x380), weight)
                mstore(add(c, 0x2a0), add(next, 1))
            }

            // Adds an approval set to the packed tallies at c+0x2e0 (candidates 0-7) and c+0x300.
            function approve(c, choices) {
                for { let k := 0 } choices {
                    k := add(k, 1)
                    choices := shr(1, choices)
                } {
                    if and(choices, 1) {
                        let lane := add(c, add(0x2e0, shl(5, shr(3, k))))
                        mstore(lane, add(mload(lane), shl(shl(5, and(k, 7)), 1)))
                    }
                }
            }

            let next := add(indexesPlusOne, 0x20)
            for {
                let src := ballots.offset
                let end := add(src, shl(7, ballots.length)) // a SignedElectionBallot is 4 static words
            } lt(src, end) {
                src := add(src, 0x80)
                next := add(next, 0x20)
            } {
                let voter := calldataload(src)
                let choices := calldataload(add(src, 0x20))
                // Dirty high bits are malformed calldata, refused as the ABI decoder would.
                if or(shr(160, voter), shr(64, choices)) { revert(0, 0) }
                let fault := shr(248, mload(next))
                if fault {
                    skip(ctx, fault, voter)
                    continue
                }
                mstore(add(ctx, 0x40), voter)
                mstore(add(ctx, 0x60), choices)
                if iszero(mload(add(ctx, 0x320))) {
                    fault := signatureFault(ctx, src, voter)
                    if fault {
                        skip(ctx, fault, voter)
                        continue
                    }
                }
                let indexPlusOne := and(mload(next), INDEX_BITS) // no fault bits left here
                if iszero(indexPlusOne) {
                    skip(ctx, 7, voter)
                    continue
                }
                let marked := mark(ctx, sub(indexPlusOne, 1), voter)
                // 2: a repeat where live proxy ballots are, settled by {_replaceProxyBallots}.
                if eq(marked, 2) { mstore(next, REPEAT) }
                if iszero(eq(marked, 1)) { continue }
                counted := add(counted, 1)
                switch mload(add(ctx, 0x220))
                case 0 { store(ctx, shr(192, mload(next))) }
                default { approve(ctx, choices) }
                mstore(add(ctx, add(0x3c0, shl(5, counted))), or(voter, shl(160, choices)))
            }
            lanesLow := mload(add(ctx, 0x2e0))
            lanesHigh := mload(add(ctx, 0x300))
        }
    }

    // ---------------------------------------------------------------- internals: the count

    /// @dev Approval: the seats candidates with the most approvals, lower index first among equals.
    function _countApproval(uint256 electionId, Election storage e) private {
        uint256 candidateCount = e.candidateCount;
        uint256[] memory tally = _unpack(e.tally, candidateCount);
        emit RoundCounted(electionId, 1, 1, tally, 0, NONE);
        uint256 seats = e.seats;
        uint256 elected = 0;
        uint256 winners = 0;
        uint8[] memory order = new uint8[](seats);
        for (uint256 s; s < seats; ++s) {
            uint256 best = NONE;
            for (uint256 c; c < candidateCount; ++c) {
                if (elected & (1 << c) != 0) continue;
                if (best == NONE || tally[c] > tally[best]) best = c;
            }
            elected |= 1 << best;
            winners |= best << (8 * s);
            order[s] = uint8(best);
            emit CandidateElected(electionId, uint8(s + 1), uint8(best), tally[best]);
        }
        e.elected = uint16(elected);
        e.winners = uint120(winners);
        e.seatsFilled = uint8(seats);
        e.round = 1;
        e.counted = true;
        emit ElectionCounted(electionId, order);
    }

    /// @dev Ranked: walks the stored ballots from the cursor, closing every round it completes,
    /// until the seats are filled or `maxBallots` ballots have been read.
    function _countRanked(uint256 electionId, Election storage e, uint256 maxBallots) private returns (bool) {
        uint256 held = e.ballotCount;
        uint256 budget = maxBallots;
        if (e.round == 0) e.round = 1;
        uint256 cursor = e.cursor;
        uint256[2] memory lanes = e.tally;
        while (true) {
            uint256 to = held - cursor > budget ? cursor + budget : held;
            _walk(e, electionId, cursor, to, lanes);
            budget -= to - cursor;
            cursor = to;
            if (cursor < held) break;
            if (_closeRound(electionId, e, lanes)) return true;
            cursor = 0;
            lanes[0] = 0;
            lanes[1] = 0;
            if (budget == 0) break;
        }
        e.cursor = uint32(cursor);
        e.tally = lanes;
        return false;
    }

    /// @dev Candidates still in the running for the seat being counted.
    function _continuing(Election storage e) private view returns (uint256) {
        return ((1 << e.candidateCount) - 1) & ~uint256(e.eliminated | e.elected);
    }

    /// @dev Adds to the packed tallies, for every stored ballot in [from, to), its highest-ranked
    /// candidate in `continuing` (a ballot with none adds nothing: it is exhausted). In assembly:
    /// it runs once per stored ballot per round, reads each storage word once, and reads a
    /// ballot's code (RankingCode) only as far as its first continuing candidate.
    function _walk(Election storage e, uint256 electionId, uint256 from, uint256 to, uint256[2] memory lanes)
        private
        view
    {
        uint256 continuing = _continuing(e);
        (uint256 codeBase, uint256 perWord) = _ballotPacking(e);
        uint256 count = e.candidateCount;
        uint256 low = lanes[0];
        uint256 high = lanes[1];
        mapping(uint256 => uint256) storage words = _ballotWords(e, electionId);
        assembly ("memory-safe") {
            mstore(0x20, words.slot)
            let word := 0
            for { let b := from } lt(b, to) { b := add(b, 1) } {
                let position := mod(b, perWord)
                if or(iszero(position), eq(b, from)) {
                    mstore(0x00, div(b, perWord))
                    word := div(sload(keccak256(0x00, 0x40)), exp(codeBase, position))
                }
                let code := mod(word, codeBase)
                word := div(word, codeBase)
                // Nibble j of `unranked`: the candidate at place j among those not yet read.
                let unranked := RANKING_PLACES
                for { let r := count } code { r := sub(r, 1) } {
                    code := sub(code, 1)
                    let place := shl(2, mod(code, r))
                    code := div(code, r)
                    let candidate := and(shr(place, unranked), 15)
                    if and(shr(candidate, continuing), 1) {
                        switch lt(candidate, 8)
                        case 1 { low := add(low, shl(shl(5, candidate), 1)) }
                        default { high := add(high, shl(shl(5, sub(candidate, 8)), 1)) }
                        break
                    }
                    unranked := or(and(unranked, sub(shl(place, 1), 1)), shl(place, shr(add(place, 4), unranked)))
                }
            }
        }
        lanes[0] = low;
        lanes[1] = high;
    }

    /// @dev Closes a completed round: emits it (and its transfers), then fills the seat or
    /// eliminates the last candidate. Returns whether the count has finished.
    function _closeRound(uint256 electionId, Election storage e, uint256[2] memory lanes) private returns (bool) {
        uint256[] memory tally = _unpack(lanes, e.candidateCount);
        (uint256 active, uint256 leader, uint256 last, bool alone) = _standings(tally, _continuing(e));
        uint8 seat = e.seatsFilled + 1;
        if (e.round > 1) _emitTransfers(electionId, e, seat, tally, active);
        e.lastRound = lanes;
        uint256 exhausted = e.ballotCount - active;
        if (tally[leader] * 2 > active || alone) {
            emit RoundCounted(electionId, seat, e.round, tally, exhausted, NONE);
            return _fillSeat(electionId, e, seat, leader, tally[leader]);
        }
        emit RoundCounted(electionId, seat, e.round, tally, exhausted, uint8(last));
        e.eliminated |= uint16(1 << last);
        e.lastEliminated = uint8(last);
        ++e.round;
        return false;
    }

    /// @dev A round's votes for anyone, its leader (lower index first among equals), its last
    /// (higher index first among equals) and whether only one candidate is continuing.
    function _standings(uint256[] memory tally, uint256 continuing)
        private
        pure
        returns (uint256 active, uint256 leader, uint256 last, bool alone)
    {
        leader = NONE;
        last = NONE;
        uint256 running = 0;
        for (uint256 c; c < tally.length; ++c) {
            active += tally[c];
            if (continuing & (1 << c) == 0) continue;
            ++running;
            if (leader == NONE || tally[c] > tally[leader]) leader = c;
            if (last == NONE || tally[c] <= tally[last]) last = c;
        }
        alone = running == 1;
    }

    /// @dev {VotesTransferred} for `round`: what each candidate gained since the round before.
    function _emitTransfers(uint256 electionId, Election storage e, uint8 seat, uint256[] memory tally, uint256 active)
        private
    {
        uint256[] memory before = _unpack(e.lastRound, tally.length);
        uint256[] memory received = new uint256[](tally.length);
        uint256 activeBefore = 0;
        uint8 from = e.lastEliminated;
        for (uint256 c; c < tally.length; ++c) {
            activeBefore += before[c];
            if (c != from) received[c] = tally[c] - before[c];
        }
        emit VotesTransferred(electionId, seat, e.round, from, received, activeBefore - active);
    }

    function _fillSeat(uint256 electionId, Election storage e, uint8 seat, uint256 winner, uint256 votes)
        private
        returns (bool)
    {
        e.elected |= uint16(1 << winner);
        e.winners |= uint120(winner << (8 * (seat - 1)));
        e.seatsFilled = seat;
        emit CandidateElected(electionId, seat, uint8(winner), votes);
        if (seat < e.seats) {
            // The next seat is counted afresh: everybody not elected is continuing again.
            e.eliminated = 0;
            e.round = 1;
            return false;
        }
        e.counted = true;
        uint8[] memory order = new uint8[](seat);
        for (uint256 s; s < seat; ++s) {
            order[s] = uint8(e.winners >> (8 * s));
        }
        emit ElectionCounted(electionId, order);
        return true;
    }

    function _unpack(uint256[2] memory packed, uint256 candidateCount) private pure returns (uint256[] memory tally) {
        tally = new uint256[](candidateCount);
        for (uint256 c; c < candidateCount; ++c) {
            tally[c] = uint32(packed[c / 8] >> ((c % 8) * 32));
        }
    }

    // ---------------------------------------------------------------- proxy ballots

    /// @inheritdoc IElections
    function castMandatedBallots(
        uint256 electionId,
        SignedElectionBallot[] calldata ballots,
        address[] calldata proxies,
        uint256 limit
    ) external returns (uint256 counted) {
        if (msg.sender != address(_electionProxies)) revert NotElectionProxies(msg.sender);
        Election storage e = _existing(electionId);
        uint256 n = ballots.length;
        uint256[] memory indexesPlusOne = new uint256[](n);
        bool open = _state(e) == ElectionState.Open;
        if (open) {
            indexesPlusOne = _rollIndexes(e, ballots);
            _markEncodingFaults(_batchContext(electionId, e, 0), ballots, indexesPlusOne);
        }
        for (uint256 i; i < n; ++i) {
            ElectionProxySkipReason reason = open
                ? _proxyBallotFault(electionId, ballots[i].voter, proxies[i], indexesPlusOne[i], limit)
                : ElectionProxySkipReason.ElectionNotOpen;
            if (reason != ElectionProxySkipReason.ElectionNotOpen || !open) {
                emit ElectionProxyBallotSkipped(electionId, ballots[i].voter, proxies[i], reason);
                continue;
            }
            _countProxyBallot(electionId, e, ballots[i], proxies[i], (indexesPlusOne[i] & INDEX_BITS) - 1);
            ++counted;
        }
    }

    /// @inheritdoc IElections
    function electionProxies() external view returns (address) {
        return address(_electionProxies);
    }

    /// @inheritdoc IElections
    function proxyBallotOf(uint256 electionId, address voter) external view returns (address proxy, uint64 choices) {
        uint256 record = _proxyBallots[electionId][voter];
        return (address(uint160(record)), uint64(record >> 160));
    }

    /// @inheritdoc IElections
    function proxyBallotCount(uint256 electionId) external view returns (uint256) {
        return _proxyBallotCount[electionId];
    }

    /// @inheritdoc IElections
    function proxyBallotsBy(uint256 electionId, address proxy) external view returns (uint256) {
        return _proxyBallotsBy[electionId][proxy];
    }

    /// @dev The first of Elections' rules a proxy ballot of an open election breaks (see
    /// {IElections-castMandatedBallots}); ElectionNotOpen stands for none.
    function _proxyBallotFault(uint256 electionId, address voter, address proxy, uint256 entry, uint256 limit)
        private
        view
        returns (ElectionProxySkipReason)
    {
        // Encoding faults share their values with ElectionSkipReason's.
        if (entry >> 248 != 0) return ElectionProxySkipReason(entry >> 248);
        entry &= INDEX_BITS; // a ranking's code above the index is not needed here
        if (entry == 0) return ElectionProxySkipReason.NotOnRoll;
        uint256 index = entry - 1;
        uint256 bit = 1 << (index % BOX_BITS);
        if (_paperVoters[electionId][index / BOX_BITS] & bit != 0) return ElectionProxySkipReason.AssignedToPaperBox;
        if (_boxes[electionId][index / BOX_BITS] & bit != 0) {
            return _proxyBallots[electionId][voter] != 0
                ? ElectionProxySkipReason.AlreadyVotedByProxy
                : ElectionProxySkipReason.VotedThemself;
        }
        if (_proxyBallotsBy[electionId][proxy] >= limit) return ElectionProxySkipReason.ProxyOverLimit;
        return ElectionProxySkipReason.ElectionNotOpen;
    }

    /// @dev Marks the voter (roll index `index`) in the box and stores or tallies the ballot.
    function _countProxyBallot(
        uint256 electionId,
        Election storage e,
        SignedElectionBallot calldata ballot,
        address proxy,
        uint256 index
    ) private {
        _boxes[electionId][index / BOX_BITS] |= 1 << (index % BOX_BITS);
        uint64 choices = ballot.choices;
        uint256 position = e.ballotCount;
        if (e.kind == ElectionKind.Ranked) {
            _putRanked(e, electionId, position, choices);
            ++e.ballotCount;
        } else {
            (uint256 low, uint256 high) = _approvalLanes(choices);
            unchecked {
                e.tally[0] += low;
                e.tally[1] += high;
            }
        }
        _proxyBallots[electionId][ballot.voter] =
            uint256(uint160(proxy)) | (uint256(choices) << 160) | (position << 224);
        ++_proxyBallotCount[electionId];
        ++_proxyBallotsBy[electionId][proxy];
        emit ElectionProxyBallotCast(electionId, ballot.voter, proxy, choices);
    }

    /// @dev Settles the batch's ballots whose voter was already in the box (in an election with
    /// live proxy ballots): the first of a voter with a live proxy ballot replaces it (its stored
    /// ranking rewritten in place, or its approvals exchanged); any other is skipped with
    /// AlreadyVoted, after the batch's counted ballots. Returns how many replaced.
    function _replaceProxyBallots(
        uint256 electionId,
        Election storage e,
        SignedElectionBallot[] calldata ballots,
        uint256[] memory indexesPlusOne
    ) private returns (uint256 replaced) {
        mapping(address => uint256) storage records = _proxyBallots[electionId];
        for (uint256 i; i < ballots.length; ++i) {
            if (indexesPlusOne[i] != REPEAT) continue;
            address voter = ballots[i].voter;
            uint256 record = records[voter];
            if (record == 0) {
                emit ElectionBallotSkipped(electionId, voter, ElectionSkipReason.AlreadyVoted);
                continue;
            }
            delete records[voter];
            --_proxyBallotCount[electionId];
            uint64 choices = ballots[i].choices;
            _replaceStored(e, electionId, record, choices);
            emit ElectionProxyBallotReplaced(electionId, voter, address(uint160(record)), uint64(record >> 160));
            uint256[] memory cast = new uint256[](1);
            cast[0] = uint256(choices) << 160 | uint160(voter);
            emit ElectionBallotsCast(electionId, cast);
            ++replaced;
        }
    }

    /// @dev Puts `choices` where the proxy ballot `record` was counted.
    function _replaceStored(Election storage e, uint256 electionId, uint256 record, uint64 choices) private {
        if (e.kind == ElectionKind.Ranked) {
            _putRanked(e, electionId, record >> 224, choices);
            return;
        }
        (uint256 oldLow, uint256 oldHigh) = _approvalLanes(uint64(record >> 160));
        (uint256 newLow, uint256 newHigh) = _approvalLanes(choices);
        // Each lane loses the proxy's approval before it gains the voter's: no borrow.
        e.tally[0] = e.tally[0] - oldLow + newLow;
        e.tally[1] = e.tally[1] - oldHigh + newHigh;
    }

    /// @dev Writes ranking `choices` (its code, see RankingCode) as stored ballot `position`.
    /// A word's first ballot writes the whole word, as the batch loop does (a shared area's
    /// word may hold an earlier holder's ballots).
    function _putRanked(Election storage e, uint256 electionId, uint256 position, uint64 choices) private {
        (uint256 codeBase, uint256 perWord) = _ballotPacking(e);
        uint256 weight = codeBase ** (position % perWord);
        mapping(uint256 => uint256) storage words = _ballotWords(e, electionId);
        bool fresh = position % perWord == 0 && position == e.ballotCount;
        uint256 word = fresh ? 0 : words[position / perWord];
        uint256 old = (word / weight) % codeBase;
        uint256 code = RankingCode.encode(choices, e.candidateCount, e.maxChoices);
        words[position / perWord] = word - old * weight + code * weight;
    }

    /// @dev The packed tallies' increments of one approval set (32 bits per candidate).
    function _approvalLanes(uint64 choices) private pure returns (uint256 low, uint256 high) {
        for (uint256 c; c < MAX_CANDIDATES; ++c) {
            if ((choices >> c) & 1 == 0) continue;
            if (c < 8) low += 1 << (32 * c);
            else high += 1 << (32 * (c - 8));
        }
    }
}
