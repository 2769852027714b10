// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IRegistry} from "./interfaces/IRegistry.sol";
import {ISecretBallot} from "./interfaces/ISecretBallot.sol";
import {ROLL_SNAPSHOT_LIFETIME} from "./libraries/RollRecord.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";
import {SecretProofs} from "./libraries/SecretProofs.sol";

/// @title SecretBallot
/// @notice Secret votes of Commons Ledger communities: the trustees' key generation on-chain,
/// encrypted ballots relayed in signed batches into a running aggregate, a challenge window, and
/// trustees' proven partial decryptions that let anyone finalize a checked tally.
/// @dev Gas layout: a ballot is paid mostly by its calldata. Its proofs are not checked when it
/// is cast (the audit checks every one; {challenge} voids an invalid one), its ciphertexts are
/// added into the aggregate held in memory through the batch and written once, and what a
/// challenge needs is one hash per batch. Measured in bench/gas_secret.py.
contract SecretBallot is ISecretBallot, EIP712, ERC2771Context {
    /// @inheritdoc ISecretBallot
    uint8 public constant MAX_SECRET_OPTIONS = 8;
    /// @inheritdoc ISecretBallot
    uint8 public constant MAX_TRUSTEES = 7;
    /// @inheritdoc ISecretBallot
    bytes32 public constant SECRET_BALLOT_TYPEHASH =
        keccak256("SecretBallot(uint256 voteId,address voter,bytes32 ballotHash)");

    bytes32 private constant COMMITTEE = keccak256("COMMITTEE");

    /// @dev What ecAdd costs (EIP-1108).
    uint256 private constant ECADD_GAS = 150;

    uint8 private constant HAS_KEY = 1;
    uint8 private constant DEALT = 2;
    uint8 private constant DISQUALIFIED = 4;
    uint8 private constant PUBLISHED = 8;

    /// @dev Word 0 is all a ballot batch reads; word 2 what it writes besides the aggregate.
    struct SecretVote {
        // word 0
        uint64 communityId;
        uint32 rollVersion;
        uint32 rollSize;
        uint40 opensAt;
        uint40 closesAt;
        uint8 optionCount;
        bool keyFixed;
        bool keyFailed;
        bool finalized;
        // word 1
        uint40 keysBy;
        uint40 dealsBy;
        uint40 complaintsBy;
        uint40 answersBy;
        uint40 challengesUntil;
        uint8 threshold;
        uint8 trusteeCount;
        uint8 qualified; // bit k for trustee k
        uint8 published; // bit k for trustee k: its partial decryptions are in
        // word 2
        uint32 ballotCount; // counted, not voided
        uint32 batchCount;
        address opener;
        // words 3-5
        bytes32 questionHash;
        uint256[2] electionKey;
    }

    /// @dev One trustee of one vote.
    struct Trustee {
        uint256[2] communicationKey;
        uint256[2] verificationKey;
        uint8 flags;
        uint8 complaints; // bit k: trustee k complained against this dealer
        uint8 answered; // bit k: the complaint of trustee k was answered
    }

    IRegistry private immutable _registry;
    uint256 private _voteCount;
    mapping(uint256 voteId => SecretVote) private _votes;
    mapping(uint256 voteId => address[]) private _trusteeAccounts;
    /// @dev 1-based trustee number of an account (0: not a trustee).
    mapping(uint256 voteId => mapping(address => uint256)) private _trusteeNumbers;
    mapping(uint256 voteId => mapping(uint256 trustee => Trustee)) private _trustees;
    /// @dev Feldman commitments C_l.x, C_l.y for l = 0..t-1.
    mapping(uint256 voteId => mapping(uint256 trustee => uint256[])) private _commitments;
    /// @dev Partial decryptions D_j.x, D_j.y for each option j.
    mapping(uint256 voteId => mapping(uint256 trustee => uint256[])) private _partials;
    /// @dev SA_j.x, SA_j.y, SB_j.x, SB_j.y for each option j.
    mapping(uint256 voteId => uint256[4 * MAX_SECRET_OPTIONS]) private _aggregates;
    /// @dev Who voted: bit `i % 256` of word `i / 256` for roll index `i`.
    mapping(uint256 voteId => mapping(uint256 word => uint256)) private _boxes;
    mapping(uint256 voteId => mapping(uint256 batch => bytes32)) private _batches;
    /// @dev Voided ballots by their EIP-712 struct hash.
    mapping(uint256 voteId => mapping(bytes32 structHash => bool)) private _voided;
    mapping(uint256 voteId => uint256[]) private _tallies;

    /// @notice Wires the votes to their forwarder and to the Registry they read rolls and roles from.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay signed requests.
    /// @param registry_ The Registry holding communities, roles and rolls.
    constructor(address trustedForwarder, address registry_)
        EIP712("CommonsSecretBallot", "1")
        ERC2771Context(trustedForwarder)
    {
        _registry = IRegistry(registry_);
    }

    // ---------------------------------------------------------------- actions: opening

    /// @inheritdoc ISecretBallot
    function openSecretVote(SecretVoteParams calldata params) external returns (uint256 voteId) {
        address opener = _msgSender();
        uint256 communityId = params.communityId;
        if (!_registry.hasRole(communityId, COMMITTEE, opener)) revert NotCommittee(communityId, opener);
        _checkParams(params);
        (uint32 rollVersion, uint32 rollSize) = _registry.rollSnapshot(communityId);
        if (rollSize == 0) revert EmptyRoll(communityId);

        voteId = ++_voteCount;
        SecretVote storage v = _votes[voteId];
        // A committee member exists, so the community does, so its id is below the Registry's count.
        v.communityId = uint64(communityId);
        v.rollVersion = rollVersion;
        v.rollSize = rollSize;
        v.opensAt = uint40(params.opensAt);
        v.closesAt = uint40(params.closesAt);
        v.optionCount = params.optionCount;
        v.keysBy = uint40(params.keysBy);
        v.dealsBy = uint40(params.dealsBy);
        v.complaintsBy = uint40(params.complaintsBy);
        v.answersBy = uint40(params.answersBy);
        v.challengesUntil = uint40(params.challengesUntil);
        v.threshold = params.threshold;
        v.trusteeCount = uint8(params.trustees.length);
        v.opener = opener;
        v.questionHash = params.questionHash;
        _trusteeAccounts[voteId] = params.trustees;
        for (uint256 k; k < params.trustees.length; ++k) {
            _trusteeNumbers[voteId][params.trustees[k]] = k + 1;
        }
        emit SecretVoteOpened(voteId, communityId, opener, params, rollVersion, rollSize);
    }

    // ---------------------------------------------------------------- actions: key generation

    /// @inheritdoc ISecretBallot
    function registerCommunicationKey(uint256 voteId, uint256[2] calldata key) external {
        (, uint256 k) = _trusteeIn(voteId, SecretVoteState.Keys);
        Trustee storage t = _trustees[voteId][k];
        if (t.flags & HAS_KEY != 0) revert AlreadyDone(voteId, uint8(k));
        _requirePoint(key[0], key[1]);
        // A key at infinity would make every share sent to this trustee readable by anyone.
        if (key[0] == 0) revert InvalidPoint(key[0], key[1]);
        t.communicationKey = key;
        t.flags |= HAS_KEY;
        emit CommunicationKeyRegistered(voteId, uint8(k), key);
    }

    /// @inheritdoc ISecretBallot
    function deal(uint256 voteId, uint256[] calldata commitments, uint256[] calldata encryptedShares) external {
        (SecretVote storage v, uint256 k) = _trusteeIn(voteId, SecretVoteState.Dealing);
        Trustee storage t = _trustees[voteId][k];
        if (t.flags & HAS_KEY == 0) revert NoCommunicationKey(voteId, uint8(k));
        if (t.flags & DEALT != 0) revert AlreadyDone(voteId, uint8(k));
        if (commitments.length != 2 * uint256(v.threshold) || encryptedShares.length != v.trusteeCount) {
            revert MalformedDeal(commitments.length, encryptedShares.length);
        }
        for (uint256 w; w < commitments.length; w += 2) {
            _requirePoint(commitments[w], commitments[w + 1]);
        }
        _commitments[voteId][k] = commitments;
        t.flags |= DEALT;
        emit SharesDealt(voteId, uint8(k), commitments, encryptedShares);
    }

    /// @inheritdoc ISecretBallot
    function complain(uint256 voteId, uint8 dealer) external {
        (SecretVote storage v, uint256 accuser) = _trusteeIn(voteId, SecretVoteState.Complaints);
        if (dealer == 0 || dealer > v.trusteeCount || dealer == accuser) {
            revert InvalidComplaint(voteId, dealer, uint8(accuser));
        }
        Trustee storage d = _trustees[voteId][dealer];
        if (d.flags & DEALT == 0) revert InvalidComplaint(voteId, dealer, uint8(accuser));
        uint8 bit = uint8(1 << accuser);
        if (d.complaints & bit != 0) revert AlreadyDone(voteId, uint8(accuser));
        d.complaints |= bit;
        emit DealComplained(voteId, dealer, uint8(accuser));
    }

    /// @inheritdoc ISecretBallot
    function answer(uint256 voteId, uint8 accuser, uint256 share) external {
        (, uint256 dealer) = _trusteeIn(voteId, SecretVoteState.Answers);
        Trustee storage d = _trustees[voteId][dealer];
        uint8 bit = accuser < 8 ? uint8(1 << accuser) : 0;
        if (d.complaints & bit == 0 || d.answered & bit != 0) revert NoComplaint(voteId, uint8(dealer), accuser);
        d.answered |= bit;
        bool valid = SecretProofs.shareMatches(_commitmentPoints(voteId, dealer), accuser, share);
        emit ComplaintAnswered(voteId, uint8(dealer), accuser, share, valid);
        if (!valid && d.flags & DISQUALIFIED == 0) {
            d.flags |= DISQUALIFIED;
            emit TrusteeDisqualified(voteId, uint8(dealer), SecretDisqualifyReason.BadAnswer);
        }
    }

    /// @inheritdoc ISecretBallot
    function closeKeyGeneration(uint256 voteId) external {
        SecretVote storage v = _existing(voteId);
        SecretVoteState s = _state(v);
        if (s != SecretVoteState.KeyPending) revert WrongPhase(voteId, s);
        uint256 n = v.trusteeCount;
        uint256 qualified = _qualify(voteId, n);
        uint256 count = _popcount(qualified);
        SecretProofs.Point[] memory dealt = _qualifiedCommitments(voteId, n, qualified);
        // Y = f(0)·g: the verification key at 0. At infinity every ballot would be in clear.
        SecretProofs.Point memory key = SecretProofs.verificationKey(dealt, v.threshold, 0);
        if (count < v.threshold || (key.x == 0 && key.y == 0)) {
            v.keyFailed = true;
            emit KeyGenerationFailed(voteId, count);
            return;
        }
        uint256[] memory keys = new uint256[](2 * n);
        for (uint256 k = 1; k <= n; ++k) {
            if (qualified & (1 << k) == 0) continue;
            SecretProofs.Point memory yk = SecretProofs.verificationKey(dealt, v.threshold, k);
            _trustees[voteId][k].verificationKey = [yk.x, yk.y];
            keys[2 * k - 2] = yk.x;
            keys[2 * k - 1] = yk.y;
        }
        v.electionKey = [key.x, key.y];
        v.qualified = uint8(qualified);
        v.keyFixed = true;
        emit KeyGenerated(voteId, v.electionKey, qualified, keys);
    }

    // ---------------------------------------------------------------- actions: ballots

    /// @inheritdoc ISecretBallot
    function castSecretBallots(uint256 voteId, SignedSecretBallot[] calldata ballots) external returns (uint256 counted) {
        SecretVote storage v = _existing(voteId);
        uint256 n = ballots.length;
        if (_state(v) != SecretVoteState.Open) {
            for (uint256 i; i < n; ++i) {
                emit SecretBallotSkipped(voteId, ballots[i].voter, SecretSkipReason.SecretVoteNotOpen);
            }
            return 0;
        }
        uint256[] memory indexesPlusOne = _rollIndexes(v, ballots);
        uint256 points = 2 * uint256(v.optionCount);
        uint256[] memory aggregate = _loadAggregate(voteId, points);
        bytes32[] memory entries = new bytes32[](n);
        uint256 batch = v.batchCount;
        for (uint256 i; i < n; ++i) {
            bytes32 entry = _castOne(voteId, v, ballots[i], indexesPlusOne[i], aggregate);
            if (entry != 0) {
                entries[counted] = entry;
                ++counted;
            }
        }
        if (counted == 0) return 0;
        _storeAggregate(voteId, aggregate, points);
        bytes32 hash;
        assembly ("memory-safe") {
            hash := keccak256(add(entries, 0x20), shl(5, counted))
        }
        _batches[voteId][batch] = hash;
        // The roll size (< 2^32) bounds the ballots and so the batches.
        v.batchCount = uint32(batch + 1);
        v.ballotCount += uint32(counted);
        emit SecretBatchRecorded(voteId, batch, hash, counted);
    }

    /// @inheritdoc ISecretBallot
    function challenge(
        uint256 voteId,
        uint256 batch,
        bytes32[] calldata batchList,
        uint256 position,
        address voter,
        uint256[] calldata words
    ) external {
        SecretVote storage v = _existing(voteId);
        SecretVoteState s = _state(v);
        if (s != SecretVoteState.Challenges) revert WrongPhase(voteId, s);
        bytes32 entry = _structHash(voteId, voter, _hashWords(words));
        if (
            words.length != _wordCount(v.optionCount) || position >= batchList.length
                || batchList[position] != entry || keccak256(abi.encodePacked(batchList)) != _batches[voteId][batch]
        ) revert BallotNotInBatch(voteId, batch, position);
        if (_voided[voteId][entry]) revert BallotAlreadyVoided(voteId, voter);
        if (_ballotProofsHold(voteId, v, voter, words)) revert BallotProofsValid(voteId, voter);
        _voided[voteId][entry] = true;
        _subtractBallot(voteId, v.optionCount, words);
        --v.ballotCount;
        emit SecretBallotVoided(voteId, voter, _msgSender(), batch, position);
    }

    // ---------------------------------------------------------------- actions: the tally

    /// @inheritdoc ISecretBallot
    function publishPartialDecryption(uint256 voteId, uint256[] calldata partials) external {
        (SecretVote storage v, uint256 k) = _trusteeIn(voteId, SecretVoteState.Decryption);
        if (v.qualified & (1 << k) == 0) revert NotQualified(voteId, uint8(k));
        Trustee storage t = _trustees[voteId][k];
        if (t.flags & PUBLISHED != 0) revert AlreadyDone(voteId, uint8(k));
        uint256 options = v.optionCount;
        if (partials.length != 4 * options) revert MalformedPartials(partials.length);
        uint256[] memory aggregate = _loadAggregate(voteId, 2 * options);
        uint256[] memory decrypted = new uint256[](2 * options);
        for (uint256 j; j < options; ++j) {
            if (!_partialHolds(voteId, k, j, t.verificationKey, aggregate, partials)) {
                revert InvalidPartialDecryption(voteId, uint8(k), j);
            }
            decrypted[2 * j] = partials[4 * j];
            decrypted[2 * j + 1] = partials[4 * j + 1];
        }
        _partials[voteId][k] = decrypted;
        t.flags |= PUBLISHED;
        v.published |= uint8(1 << k);
        emit PartialDecryptionPublished(voteId, uint8(k), partials);
    }

    /// @inheritdoc ISecretBallot
    function finalizeSecretVote(uint256 voteId, uint256[] calldata tally) external {
        SecretVote storage v = _existing(voteId);
        SecretVoteState s = _state(v);
        if (s != SecretVoteState.Decryption) revert WrongPhase(voteId, s);
        uint256 used = _firstPublished(v.published, v.threshold);
        if (used == 0) revert NotEnoughPartials(voteId, _popcount(v.published), v.threshold);
        uint256 options = v.optionCount;
        uint256 ballots = v.ballotCount;
        if (tally.length != options) revert WrongTally(voteId, options, ballots);
        uint256[] memory decrypted = _combine(voteId, used, options);
        uint256[] memory aggregate = _loadAggregate(voteId, 2 * options);
        uint256 sum = 0;
        for (uint256 j; j < options; ++j) {
            SecretProofs.Point memory m = SecretProofs.sub(
                SecretProofs.Point(aggregate[4 * j + 2], aggregate[4 * j + 3]),
                SecretProofs.Point(decrypted[2 * j], decrypted[2 * j + 1])
            );
            SecretProofs.Point memory counted = SecretProofs.mul(SecretProofs.Point(1, 2), tally[j]);
            if (tally[j] > ballots || counted.x != m.x || counted.y != m.y) revert WrongTally(voteId, j, ballots);
            sum += tally[j];
        }
        if (sum != ballots) revert WrongTally(voteId, options, ballots);
        _tallies[voteId] = tally;
        v.finalized = true;
        emit SecretVoteFinalized(voteId, tally, used);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ISecretBallot
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ISecretBallot
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ISecretBallot
    function secretVoteCount() external view returns (uint256) {
        return _voteCount;
    }

    /// @inheritdoc ISecretBallot
    function getSecretVote(uint256 voteId) external view returns (SecretVoteView memory view_) {
        SecretVote storage v = _existing(voteId);
        view_.communityId = v.communityId;
        view_.opener = v.opener;
        view_.questionHash = v.questionHash;
        view_.optionCount = v.optionCount;
        view_.trustees = _trusteeAccounts[voteId];
        view_.threshold = v.threshold;
        view_.keysBy = v.keysBy;
        view_.dealsBy = v.dealsBy;
        view_.complaintsBy = v.complaintsBy;
        view_.answersBy = v.answersBy;
        view_.opensAt = v.opensAt;
        view_.closesAt = v.closesAt;
        view_.challengesUntil = v.challengesUntil;
        view_.rollVersion = v.rollVersion;
        view_.rollSize = v.rollSize;
        view_.state = _state(v);
        view_.electionKey = v.electionKey;
        view_.qualified = v.qualified;
        // Nothing about the ballots before the close: no count, no aggregate.
        if (block.timestamp >= v.closesAt && v.keyFixed) {
            view_.ballotCount = v.ballotCount;
            view_.aggregate = _loadAggregate(voteId, 2 * uint256(v.optionCount));
        }
        view_.tally = _tallies[voteId];
    }

    /// @inheritdoc ISecretBallot
    function secretVoteState(uint256 voteId) external view returns (SecretVoteState) {
        return _state(_existing(voteId));
    }

    /// @inheritdoc ISecretBallot
    function hasVotedSecretly(uint256 voteId, address voter) external view returns (bool) {
        SecretVote storage v = _existing(voteId);
        (bool assigned, uint32 index) = _registry.residentIndex(v.communityId, voter);
        if (!assigned) return false;
        return _boxes[voteId][index / 256] & (1 << (index % 256)) != 0;
    }

    /// @inheritdoc ISecretBallot
    function batchHash(uint256 voteId, uint256 batch) external view returns (bytes32) {
        return _batches[voteId][batch];
    }

    /// @inheritdoc ISecretBallot
    function secretBallotDigest(uint256 voteId, address voter, bytes32 ballotHash) external view returns (bytes32) {
        return _hashTypedDataV4(_structHash(voteId, voter, ballotHash));
    }

    // ---------------------------------------------------------------- internals: phases

    function _existing(uint256 voteId) private view returns (SecretVote storage v) {
        v = _votes[voteId];
        if (v.communityId == 0) revert UnknownSecretVote(voteId);
    }

    function _state(SecretVote storage v) private view returns (SecretVoteState) {
        if (v.finalized) return SecretVoteState.Finalized;
        if (v.keyFailed) return SecretVoteState.KeyFailed;
        uint256 t = block.timestamp;
        if (!v.keyFixed) {
            if (t < v.keysBy) return SecretVoteState.Keys;
            if (t < v.dealsBy) return SecretVoteState.Dealing;
            if (t < v.complaintsBy) return SecretVoteState.Complaints;
            if (t < v.answersBy) return SecretVoteState.Answers;
            return SecretVoteState.KeyPending;
        }
        if (t < v.opensAt) return SecretVoteState.Pending;
        if (t < v.closesAt) return SecretVoteState.Open;
        if (t < v.challengesUntil) return SecretVoteState.Challenges;
        return SecretVoteState.Decryption;
    }

    /// @dev The vote and the caller's trustee number, if the vote is in `phase`.
    function _trusteeIn(uint256 voteId, SecretVoteState phase) private view returns (SecretVote storage v, uint256 k) {
        v = _existing(voteId);
        address account = _msgSender();
        k = _trusteeNumbers[voteId][account];
        if (k == 0) revert NotTrustee(voteId, account);
        SecretVoteState s = _state(v);
        if (s != phase) revert WrongPhase(voteId, s);
    }

    function _checkParams(SecretVoteParams calldata params) private view {
        if (params.optionCount < 2 || params.optionCount > MAX_SECRET_OPTIONS) revert InvalidOptionCount(params.optionCount);
        uint256 n = params.trustees.length;
        if (n == 0 || n > MAX_TRUSTEES || params.threshold == 0 || params.threshold > n) {
            revert InvalidTrustees(n, params.threshold);
        }
        for (uint256 i; i < n; ++i) {
            if (params.trustees[i] == address(0)) revert InvalidTrustees(n, params.threshold);
            for (uint256 j; j < i; ++j) {
                if (params.trustees[i] == params.trustees[j]) revert InvalidTrustees(n, params.threshold);
            }
        }
        // The closing bound keeps every snapshot within the Registry's history guarantee.
        if (
            params.keysBy <= block.timestamp || params.dealsBy < params.keysBy || params.complaintsBy < params.dealsBy
                || params.answersBy < params.complaintsBy || params.opensAt < params.answersBy
                || params.closesAt <= params.opensAt || params.challengesUntil <= params.closesAt
                || params.closesAt > block.timestamp + ROLL_SNAPSHOT_LIFETIME
        ) revert InvalidSecretSchedule(block.timestamp);
    }

    // ---------------------------------------------------------------- internals: key generation

    /// @dev Disqualifies, with an event, every trustee without a key, a deal, or an answer to
    /// each complaint; returns the qualified set (bit k for trustee k).
    function _qualify(uint256 voteId, uint256 n) private returns (uint256 qualified) {
        for (uint256 k = 1; k <= n; ++k) {
            Trustee storage t = _trustees[voteId][k];
            uint8 flags = t.flags;
            if (flags & DISQUALIFIED != 0) continue;
            SecretDisqualifyReason reason;
            if (flags & HAS_KEY == 0) reason = SecretDisqualifyReason.NoKey;
            else if (flags & DEALT == 0) reason = SecretDisqualifyReason.NoDeal;
            else if (t.complaints & ~t.answered != 0) reason = SecretDisqualifyReason.NoAnswer;
            else {
                qualified |= 1 << k;
                continue;
            }
            t.flags = flags | DISQUALIFIED;
            emit TrusteeDisqualified(voteId, uint8(k), reason);
        }
    }

    /// @dev The qualified dealers' commitments one after another, in trustee order.
    function _qualifiedCommitments(uint256 voteId, uint256 n, uint256 qualified)
        private
        view
        returns (SecretProofs.Point[] memory dealt)
    {
        uint256 threshold = _votes[voteId].threshold;
        dealt = new SecretProofs.Point[](_popcount(qualified) * threshold);
        uint256 at = 0;
        for (uint256 k = 1; k <= n; ++k) {
            if (qualified & (1 << k) == 0) continue;
            SecretProofs.Point[] memory own = _commitmentPoints(voteId, k);
            for (uint256 c; c < threshold; ++c) {
                dealt[at] = own[c];
                ++at;
            }
        }
    }

    /// @dev Trustee `k`'s Feldman commitments as points.
    function _commitmentPoints(uint256 voteId, uint256 k) private view returns (SecretProofs.Point[] memory points) {
        uint256[] storage words = _commitments[voteId][k];
        points = new SecretProofs.Point[](words.length / 2);
        for (uint256 c; c < points.length; ++c) {
            points[c] = SecretProofs.Point(words[2 * c], words[2 * c + 1]);
        }
    }

    // ---------------------------------------------------------------- internals: ballots

    function _wordCount(uint256 options) private pure returns (uint256) {
        return 7 * options + 2;
    }

    function _structHash(uint256 voteId, address voter, bytes32 ballotHash) private pure returns (bytes32) {
        return keccak256(abi.encode(SECRET_BALLOT_TYPEHASH, voteId, voter, ballotHash));
    }

    /// @dev keccak256(abi.encodePacked(words)) without keeping a copy in memory.
    function _hashWords(uint256[] calldata words) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            let size := shl(5, words.length)
            calldatacopy(buf, words.offset, size)
            hash := keccak256(buf, size)
        }
    }

    /// @dev Eligibility of every ballot's voter at the vote's snapshot, in one Registry call.
    function _rollIndexes(SecretVote storage v, SignedSecretBallot[] calldata ballots)
        private
        view
        returns (uint256[] memory)
    {
        uint256 n = ballots.length;
        address[] memory voters = new address[](n);
        for (uint256 i; i < n; ++i) {
            voters[i] = ballots[i].voter;
        }
        return _registry.rollIndexesAt(v.communityId, v.rollVersion, voters);
    }

    /// @dev One relayed ballot, checked in the order ISecretBallot gives; adds it to `aggregate`
    /// and returns its struct hash if counted, else emits the skip and returns 0.
    function _castOne(
        uint256 voteId,
        SecretVote storage v,
        SignedSecretBallot calldata b,
        uint256 indexPlusOne,
        uint256[] memory aggregate
    ) private returns (bytes32 entry) {
        address voter = b.voter;
        SecretSkipReason reason;
        if (b.words.length != _wordCount(v.optionCount)) {
            reason = SecretSkipReason.MalformedBallot;
        } else {
            bytes32 ballotHash = _hashWords(b.words);
            entry = _structHash(voteId, voter, ballotHash);
            reason = _signatureFault(_hashTypedDataV4(entry), voter, b.r, b.vs);
            if (reason == SecretSkipReason.SecretVoteNotOpen) reason = _admit(voteId, indexPlusOne, b.words, aggregate);
            if (reason == SecretSkipReason.SecretVoteNotOpen) {
                emit SecretBallotCast(voteId, voter, ballotHash);
                return entry;
            }
        }
        emit SecretBallotSkipped(voteId, voter, reason);
        return 0;
    }

    /// @dev SecretVoteNotOpen (no fault: the vote is open here) if `voter` signed `digest` with
    /// a low-s signature, else the reason.
    function _signatureFault(bytes32 digest, address voter, bytes32 r, bytes32 vs)
        private
        pure
        returns (SecretSkipReason)
    {
        uint256 s = uint256(vs) & (type(uint256).max >> 1);
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (s > HALF_N) return SecretSkipReason.MalleableSignature;
        address signer = ecrecover(digest, uint8(27 + (uint256(vs) >> 255)), r, bytes32(s));
        if (signer == address(0) || signer != voter) return SecretSkipReason.BadSignature;
        return SecretSkipReason.SecretVoteNotOpen;
    }

    /// @dev The roll, the ballot box and the points: adds the ciphertexts to `aggregate` and
    /// marks the voter, or returns the reason (SecretVoteNotOpen: admitted).
    function _admit(uint256 voteId, uint256 indexPlusOne, uint256[] calldata words, uint256[] memory aggregate)
        private
        returns (SecretSkipReason)
    {
        if (indexPlusOne == 0) return SecretSkipReason.NotOnRoll;
        uint256 index = indexPlusOne - 1;
        mapping(uint256 => uint256) storage box = _boxes[voteId];
        uint256 bits = box[index / 256];
        uint256 bit = 1 << (index % 256);
        if (bits & bit != 0) return SecretSkipReason.AlreadyVoted;
        if (!_accumulate(aggregate, words)) return SecretSkipReason.InvalidPoint;
        box[index / 256] = bits | bit;
        return SecretSkipReason.SecretVoteNotOpen;
    }

    /// @dev Adds the ballot's points (the first aggregate.length words of `words`) into
    /// `aggregate`, all or none: false if ecAdd refuses one (off the curve, a coordinate >= p).
    function _accumulate(uint256[] memory aggregate, uint256[] calldata words) private view returns (bool ok) {
        assembly ("memory-safe") {
            let size := shl(5, mload(aggregate))
            let sums := mload(0x40) // scratch past the free pointer: the new sums, then ecAdd's input
            let input := add(sums, size)
            ok := 1
            for { let w := 0 } lt(w, size) { w := add(w, 0x40) } {
                let at := add(add(aggregate, 0x20), w)
                mstore(input, mload(at))
                mstore(add(input, 0x20), mload(add(at, 0x20)))
                calldatacopy(add(input, 0x40), add(words.offset, w), 0x40)
                // A refused point burns all the gas given to the precompile: give it its price.
                if iszero(staticcall(ECADD_GAS, 0x06, input, 0x80, add(sums, w), 0x40)) {
                    ok := 0
                    break
                }
            }
            if ok { mcopy(add(aggregate, 0x20), sums, size) }
        }
    }

    function _loadAggregate(uint256 voteId, uint256 points) private view returns (uint256[] memory aggregate) {
        uint256[4 * MAX_SECRET_OPTIONS] storage stored = _aggregates[voteId];
        aggregate = new uint256[](2 * points);
        for (uint256 w; w < aggregate.length; ++w) {
            aggregate[w] = stored[w];
        }
    }

    function _storeAggregate(uint256 voteId, uint256[] memory aggregate, uint256 points) private {
        uint256[4 * MAX_SECRET_OPTIONS] storage stored = _aggregates[voteId];
        for (uint256 w; w < 2 * points; ++w) {
            stored[w] = aggregate[w];
        }
    }

    /// @dev Takes a voided ballot's ciphertexts back out of the aggregate.
    function _subtractBallot(uint256 voteId, uint256 options, uint256[] calldata words) private {
        uint256[4 * MAX_SECRET_OPTIONS] storage stored = _aggregates[voteId];
        for (uint256 w; w < 4 * options; w += 2) {
            SecretProofs.Point memory left = SecretProofs.sub(
                SecretProofs.Point(stored[w], stored[w + 1]), SecretProofs.Point(words[w], words[w + 1])
            );
            (stored[w], stored[w + 1]) = (left.x, left.y);
        }
    }

    function _ballotProofsHold(uint256 voteId, SecretVote storage v, address voter, uint256[] calldata words)
        private
        view
        returns (bool)
    {
        SecretProofs.Point memory key = SecretProofs.Point(v.electionKey[0], v.electionKey[1]);
        return SecretProofs.verifyBallot(_proofContext(voteId), key, voter, v.questionHash, words);
    }

    // ---------------------------------------------------------------- internals: the tally

    function _proofContext(uint256 voteId) private view returns (SecretProofs.Context memory) {
        return SecretProofs.Context(block.chainid, address(this), voteId);
    }

    function _partialHolds(
        uint256 voteId,
        uint256 k,
        uint256 j,
        uint256[2] storage verificationKey,
        uint256[] memory aggregate,
        uint256[] calldata partials
    ) private view returns (bool) {
        return SecretProofs.verifyPartial(
            _proofContext(voteId),
            k,
            j,
            SecretProofs.Point(verificationKey[0], verificationKey[1]),
            SecretProofs.Point(aggregate[4 * j], aggregate[4 * j + 1]),
            SecretProofs.Point(partials[4 * j], partials[4 * j + 1]),
            partials[4 * j + 2],
            partials[4 * j + 3]
        );
    }

    /// @dev The first `threshold` trustees (by number) in `published`; 0 if there are fewer.
    function _firstPublished(uint256 published, uint256 threshold) private pure returns (uint256 used) {
        uint256 found = 0;
        for (uint256 k = 1; k <= MAX_TRUSTEES && found < threshold; ++k) {
            if (published & (1 << k) == 0) continue;
            used |= 1 << k;
            ++found;
        }
        if (found < threshold) return 0;
    }

    /// @dev Σ_k λ_k·D_kj over the trustees in `used`, for every option j (Lagrange at 0).
    function _combine(uint256 voteId, uint256 used, uint256 options) private view returns (uint256[] memory sums) {
        sums = new uint256[](2 * options);
        uint256[] memory indices = new uint256[](_popcount(used));
        uint256 at = 0;
        for (uint256 k = 1; k <= MAX_TRUSTEES; ++k) {
            if (used & (1 << k) == 0) continue;
            indices[at] = k;
            ++at;
        }
        for (uint256 i; i < indices.length; ++i) {
            uint256 lambda = SecretProofs.lagrangeAtZero(indices, indices[i]);
            uint256[] storage d = _partials[voteId][indices[i]];
            for (uint256 w; w < 2 * options; w += 2) {
                SecretProofs.Point memory part = SecretProofs.mul(SecretProofs.Point(d[w], d[w + 1]), lambda);
                SecretProofs.Point memory total = SecretProofs.add(SecretProofs.Point(sums[w], sums[w + 1]), part);
                (sums[w], sums[w + 1]) = (total.x, total.y);
            }
        }
    }

    function _requirePoint(uint256 x, uint256 y) private pure {
        if (!SecretProofs.isOnCurve(x, y)) revert InvalidPoint(x, y);
    }

    function _popcount(uint256 bits) private pure returns (uint256 count) {
        for (; bits != 0; bits &= bits - 1) {
            ++count;
        }
    }
}
