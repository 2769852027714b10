// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ICouncil} from "./interfaces/ICouncil.sol";
import {IInitiatives} from "./interfaces/IInitiatives.sol";
import {IRegistry} from "./interfaces/IRegistry.sol";
import {CurrencyCode} from "./libraries/CurrencyCode.sol";
import {ROLL_SNAPSHOT_LIFETIME} from "./libraries/RollRecord.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title Initiatives
/// @notice Resident initiatives for Commons Ledger communities: submitted by a resident, co-signed
/// by residents in relayed batches, turned into a council proposal at the community's threshold.
/// @dev Gas layout: everything a co-signature batch reads and writes sits in one initiative word;
/// who co-signed is a bitmap by stable roll index (224 residents per word, under a 32-bit tag
/// naming the initiative) that a community's initiatives reuse once its holder stops collecting,
/// as the Council reuses ballot boxes; eligibility for a whole batch is one call into the
/// Registry. Measured in bench/gas_initiatives.py.
contract Initiatives is IInitiatives, EIP712, ERC2771Context {
    /// @inheritdoc IInitiatives
    bytes32 public constant COSIGNATURE_TYPEHASH = keccak256("CoSignature(uint256 initiativeId,address signer)");

    uint256 private constant BPS = 10_000;
    /// @dev The council proposal an initiative becomes: yes / no / abstain.
    uint8 private constant YES_NO_ABSTAIN_OPTIONS = 3;
    /// @dev Co-signer bits per bitmap word (the other 32 bits tag the word's initiative).
    uint256 private constant BOX_BITS = 224;
    /// @dev Co-signer bitmaps each community reuses; a community with more initiatives collecting
    /// at once gives the extra ones a bitmap of their own.
    uint256 private constant SHARED_BOXES = 8;
    /// @dev What a fresh bitmap's words are primed with: tag 0 names no initiative (ids start at
    /// 1), so the word is empty for every one, but non-zero.
    uint256 private constant BOX_PRIMED = 1;
    /// @dev Words primed in a fresh bitmap, at most (14,336 residents; ~1.4M gas once).
    uint256 private constant BOX_PRIMED_WORDS_MAX = 64;

    /// @dev Laid out by word: a co-signature batch reads and writes word 0 only.
    struct Initiative {
        // word 0
        uint64 communityId;
        uint32 rollVersion;
        uint32 needed;
        uint32 coSignatures;
        uint40 closesAt;
        bool promoted;
        uint8 box; // 0: a bitmap of its own; k > 0: the community's shared bitmap k - 1
        // word 1
        bytes32 textHash;
        // word 2
        address author;
        bytes3 budgetCurrency;
        uint32 rollSize;
        uint40 opensAt;
        // word 3
        uint128 budgetAmount;
        uint64 proposalId;
        // word 4: the rules in force at submission
        InitiativeRules rules;
    }

    IRegistry private immutable _registry;
    ICouncil private immutable _council;
    uint256 private _initiativeCount;
    mapping(uint256 initiativeId => Initiative) private _initiatives;
    mapping(uint256 communityId => InitiativeRules) private _rules;
    /// @dev Who co-signed, by roll index: word `i / 224` holds the bit of index `i` at position
    /// `i % 224`, under a 32-bit tag (the top bits) naming the initiative that wrote it; a word
    /// with another tag is empty for this initiative. The tag lets a community's next initiative
    /// take over a bitmap without clearing it: its words are rewritten nonzero to nonzero (5,000
    /// gas) instead of zero to nonzero (22,100).
    mapping(uint256 communityId => mapping(uint256 box => mapping(uint256 word => uint256))) private _sharedBoxes;
    mapping(uint256 initiativeId => mapping(uint256 word => uint256)) private _ownBoxes;
    /// @dev Per community, SHARED_BOXES lanes of 32 bits: the initiative holding each shared bitmap.
    mapping(uint256 communityId => uint256 holders) private _boxHolders;

    /// @notice Wires the contract to its forwarder, the Registry it reads rolls and admins from, and
    /// the Council that trusts it to open proposals.
    constructor(address trustedForwarder, address registry_, address council_)
        EIP712("CommonsInitiatives", "1")
        ERC2771Context(trustedForwarder)
    {
        _registry = IRegistry(registry_);
        _council = ICouncil(council_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IInitiatives
    function setRules(uint256 communityId, InitiativeRules calldata rules) external {
        address sender = _msgSender();
        if (_registry.communityAdmin(communityId) != sender) revert NotCommunityAdmin(communityId, sender);
        _checkRules(rules);
        _rules[communityId] = rules;
        emit InitiativeRulesSet(communityId, rules, sender);
    }

    /// @inheritdoc IInitiatives
    function submit(uint256 communityId, bytes32 textHash, uint128 budgetAmount, bytes3 budgetCurrency)
        external
        returns (uint256 initiativeId)
    {
        InitiativeRules memory rules = _rules[communityId];
        if (rules.thresholdBps == 0) revert InitiativesNotEnabled(communityId);
        if (textHash == bytes32(0)) revert MissingTextHash();
        if (budgetAmount != 0 && !CurrencyCode.isValid(budgetCurrency)) {
            revert InvalidBudget(budgetAmount, budgetCurrency);
        }
        address author = _msgSender();
        (uint32 rollVersion, uint32 rollSize) = _registry.rollSnapshot(communityId);
        // An author on the roll also means the roll is not empty.
        if (_registry.rollIndexAt(communityId, rollVersion, author) == 0) {
            revert AuthorNotOnRoll(communityId, author, rollVersion);
        }
        initiativeId = ++_initiativeCount;
        // Bitmap words are tagged with 32 bits of the initiative id.
        if (initiativeId > type(uint32).max) revert TooManyInitiatives();
        Initiative storage i = _initiatives[initiativeId];
        bool fresh;
        (i.box, fresh) = _takeBox(communityId, initiativeId);
        // The author is on a roll, so the community exists and its id is below the Registry's count.
        i.communityId = uint64(communityId);
        // A bitmap never written is primed by its first initiative's submission, so that no
        // batch of co-signatures writes a zero word (22,100 gas instead of 5,000).
        if (fresh) _primeBox(_box(i, initiativeId), rollSize);
        i.rollVersion = rollVersion;
        i.needed = _needed(rules.thresholdBps, rollSize);
        i.closesAt = uint40(block.timestamp + rules.signingPeriod);
        i.textHash = textHash;
        i.author = author;
        i.budgetCurrency = budgetCurrency;
        i.rollSize = rollSize;
        i.opensAt = uint40(block.timestamp);
        i.budgetAmount = budgetAmount;
        i.rules = rules;
        _emitSubmitted(initiativeId, i);
    }

    /// @inheritdoc IInitiatives
    function coSign(uint256 initiativeId, SignedCoSignature[] calldata coSignatures)
        external
        returns (uint256 counted)
    {
        Initiative storage i = _existing(initiativeId);
        if (_state(i) != InitiativeState.Collecting) {
            // Late co-signatures are recorded as refused rather than reverting, so the relayer and
            // the resident learn from the chain why they were not counted.
            for (uint256 k; k < coSignatures.length; ++k) {
                emit CoSignatureSkipped(
                    initiativeId, coSignatures[k].signer, CoSignatureSkipReason.InitiativeNotCollecting
                );
            }
            return 0;
        }
        uint256[] memory indexesPlusOne = _rollIndexes(i, coSignatures);
        counted = _countCoSignatures(_batchContext(initiativeId), coSignatures, indexesPlusOne);
        if (counted == 0) return 0;
        // At most the roll size (< 2^32) residents co-sign, so the count fits.
        uint32 total = i.coSignatures + uint32(counted);
        i.coSignatures = total;
        if (total >= i.needed) _promote(i, initiativeId, total);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IInitiatives
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IInitiatives
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IInitiatives
    function council() external view returns (address) {
        return address(_council);
    }

    /// @inheritdoc IInitiatives
    function rulesOf(uint256 communityId) external view returns (InitiativeRules memory) {
        return _rules[communityId];
    }

    /// @inheritdoc IInitiatives
    function initiativeCount() external view returns (uint256) {
        return _initiativeCount;
    }

    /// @inheritdoc IInitiatives
    function getInitiative(uint256 initiativeId) external view returns (InitiativeView memory view_) {
        Initiative storage i = _existing(initiativeId);
        view_.communityId = i.communityId;
        view_.author = i.author;
        view_.textHash = i.textHash;
        view_.budgetAmount = i.budgetAmount;
        view_.budgetCurrency = i.budgetCurrency;
        view_.rollVersion = i.rollVersion;
        view_.rollSize = i.rollSize;
        view_.needed = i.needed;
        view_.coSignatures = i.coSignatures;
        view_.opensAt = i.opensAt;
        view_.closesAt = i.closesAt;
        view_.rules = i.rules;
        view_.state = _state(i);
        view_.proposalId = i.proposalId;
    }

    /// @inheritdoc IInitiatives
    function hasCoSigned(uint256 initiativeId, address signer) external view returns (bool) {
        Initiative storage i = _existing(initiativeId);
        uint256 box = i.box;
        if (box != 0 && uint32(_boxHolders[i.communityId] >> ((box - 1) * 32)) != initiativeId) {
            revert CoSignerBitmapRecycled(initiativeId);
        }
        (bool assigned, uint32 index) = _registry.residentIndex(i.communityId, signer);
        if (!assigned) return false;
        uint256 word = _box(i, initiativeId)[index / BOX_BITS];
        return word >> BOX_BITS == initiativeId && word & (1 << (index % BOX_BITS)) != 0;
    }

    /// @inheritdoc IInitiatives
    function coSignatureDigest(uint256 initiativeId, address signer) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COSIGNATURE_TYPEHASH, initiativeId, signer)));
    }

    // ---------------------------------------------------------------- internals

    /// @dev {InitiativeSubmitted} from what was just stored (a function of its own: the event's
    /// fields do not fit the submitting function's stack).
    function _emitSubmitted(uint256 initiativeId, Initiative storage i) private {
        emit InitiativeSubmitted(
            initiativeId,
            i.communityId,
            i.author,
            i.textHash,
            i.budgetAmount,
            i.budgetCurrency,
            i.rollVersion,
            i.rollSize,
            i.needed,
            i.closesAt,
            i.rules
        );
    }

    function _existing(uint256 initiativeId) private view returns (Initiative storage i) {
        i = _initiatives[initiativeId];
        if (i.communityId == 0) revert UnknownInitiative(initiativeId);
    }

    function _state(Initiative storage i) private view returns (InitiativeState) {
        if (i.promoted) return InitiativeState.Promoted;
        if (block.timestamp < i.closesAt) return InitiativeState.Collecting;
        return InitiativeState.Expired;
    }

    function _checkRules(InitiativeRules calldata rules) private pure {
        // The council refuses a proposal outside these bounds: checked here, so that no admin can
        // set rules that would make a reached initiative fail to open its proposal.
        if (
            rules.thresholdBps == 0 || rules.thresholdBps > BPS || rules.signingPeriod == 0
                || rules.signingPeriod > ROLL_SNAPSHOT_LIFETIME || rules.votingPeriod == 0
                || rules.votingPeriod > ROLL_SNAPSHOT_LIFETIME || rules.quorumBps > BPS || rules.passBps < BPS / 2
                || rules.passBps >= BPS
        ) revert InvalidInitiativeRules(rules);
    }

    /// @dev ceil(thresholdBps * rollSize / 10000), at least one.
    function _needed(uint16 thresholdBps, uint32 rollSize) private pure returns (uint32) {
        uint256 needed = (uint256(thresholdBps) * rollSize + BPS - 1) / BPS;
        return needed == 0 ? 1 : uint32(needed);
    }

    /// @dev Eligibility of every co-signer at the initiative's snapshot, in one Registry call.
    function _rollIndexes(Initiative storage i, SignedCoSignature[] calldata coSignatures)
        private
        view
        returns (uint256[] memory)
    {
        uint256 n = coSignatures.length;
        address[] memory signers = new address[](n);
        for (uint256 k; k < n; ++k) {
            signers[k] = coSignatures[k].signer;
        }
        return _registry.rollIndexesAt(i.communityId, i.rollVersion, signers);
    }

    /// @dev The relayed co-signature loop. For each co-signature, in this order: low-s signature
    /// by the named signer over its EIP-712 digest, on the roll at the snapshot, not yet counted
    /// (a bitmap word tagged for another initiative counts as empty); then {CoSigned}, or
    /// {CoSignatureSkipped} with the first rule broken. In assembly because it runs for every
    /// co-signature: its Solidity form (calls, bounds checks, ABI copies) cost 1,051 gas
    /// more per co-signature (a later initiative, first batch: 14,103 against 13,052 in
    /// bench/gas_initiatives.py); the tests pin it to the digests of
    /// {coSignatureDigest} and to the skip reasons of a Python model. Skip reasons are
    /// CoSignatureSkipReason's values: 1 BadSignature, 2 MalleableSignature, 3 NotOnRoll,
    /// 4 AlreadyCoSigned. Scratch memory, laid out so each hash and the ecrecover input are
    /// contiguous:
    ///   0x00 COSIGNATURE_TYPEHASH | 0x20 initiativeId | 0x40 signer      (struct hash input)
    ///   0x60 0x1901 | 0x62 domain separator | 0x82 struct hash             (digest input)
    ///   0xc0 digest | 0xe0 v | 0x100 r | 0x120 s                           (ecrecover input)
    ///   0x140 CoSigned topic | 0x160 CoSignatureSkipped topic | 0x180 the bitmap's slot
    function _countCoSignatures(uint256 ctx, SignedCoSignature[] calldata coSignatures, uint256[] memory indexesPlusOne)
        private
        returns (uint256 counted)
    {
        assembly ("memory-safe") {
            // 0 if `signer` signed the co-signature at `src` with a low-s signature, else the
            // reason. Leaves the digest at c+0xc0.
            function signatureFault(c, src, signer) -> fault {
                mstore(add(c, 0x40), signer)
                mstore(add(c, 0x82), keccak256(c, 0x60))
                mstore(add(c, 0xc0), keccak256(add(c, 0x60), 0x42))
                let vs := calldataload(add(src, 0x40))
                let s := and(vs, sub(shl(255, 1), 1))
                // ecrecover accepts the high-s twin of every signature: refuse it first.
                if gt(s, HALF_N) {
                    fault := 2
                    leave
                }
                mstore(add(c, 0xe0), add(shr(255, vs), 27))
                mstore(add(c, 0x100), calldataload(add(src, 0x20)))
                mstore(add(c, 0x120), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, add(c, 0xc0), 0x80, 0x00, 0x20))
                let recovered := mload(0x00)
                if or(iszero(recovered), iszero(eq(recovered, signer))) { fault := 1 }
            }
            // 0 once roll index `indexPlusOne - 1`'s bit is set for this initiative; 3 for one
            // not on the snapshot roll, 4 if the bit was already set.
            function markFault(c, indexPlusOne) -> fault {
                if iszero(indexPlusOne) {
                    fault := 3
                    leave
                }
                let index := sub(indexPlusOne, 1)
                let tag := mload(add(c, 0x20))
                mstore(0x00, div(index, BOX_BITS))
                mstore(0x20, mload(add(c, 0x180)))
                let slot := keccak256(0x00, 0x40)
                let bits := sload(slot)
                if iszero(eq(shr(BOX_BITS, bits), tag)) { bits := shl(BOX_BITS, tag) }
                let bit := shl(mod(index, BOX_BITS), 1)
                if and(bits, bit) {
                    fault := 4
                    leave
                }
                sstore(slot, or(bits, bit))
            }

            let next := add(indexesPlusOne, 0x20)
            for {
                let src := coSignatures.offset
                let end := add(src, mul(coSignatures.length, 0x60)) // a SignedCoSignature is 3 words
            } lt(src, end) {
                src := add(src, 0x60)
                next := add(next, 0x20)
            } {
                let signer := calldataload(src)
                // Dirty high bits are malformed calldata, refused as the ABI decoder would.
                if shr(160, signer) { revert(0, 0) }
                let fault := signatureFault(ctx, src, signer)
                if iszero(fault) { fault := markFault(ctx, mload(next)) }
                switch fault
                case 0 {
                    counted := add(counted, 1)
                    mstore(0x00, mload(add(ctx, 0xc0)))
                    log3(0x00, 0x20, mload(add(ctx, 0x140)), mload(add(ctx, 0x20)), signer)
                }
                default {
                    mstore(0x00, fault)
                    log3(0x00, 0x20, mload(add(ctx, 0x160)), mload(add(ctx, 0x20)), signer)
                }
            }
        }
    }

    /// @dev Lays out what every co-signature of a batch shares for {_countCoSignatures}.
    function _batchContext(uint256 initiativeId) private view returns (uint256 ctx) {
        mapping(uint256 word => uint256) storage box = _box(_initiatives[initiativeId], initiativeId);
        bytes32 typeHash = COSIGNATURE_TYPEHASH;
        bytes32 domainSeparator = _domainSeparatorV4();
        bytes32 cosignedTopic = CoSigned.selector;
        bytes32 skippedTopic = CoSignatureSkipped.selector;
        assembly ("memory-safe") {
            ctx := mload(0x40)
            mstore(0x40, add(ctx, 0x1a0))
            mstore(ctx, typeHash)
            mstore(add(ctx, 0x20), initiativeId)
            mstore(add(ctx, 0x60), hex"1901")
            mstore(add(ctx, 0x62), domainSeparator)
            mstore(add(ctx, 0x140), cosignedTopic)
            mstore(add(ctx, 0x160), skippedTopic)
            mstore(add(ctx, 0x180), box.slot)
        }
    }

    /// @dev Hands the community's first free shared bitmap (never used, or held by an initiative
    /// that stopped collecting and so can take no more co-signatures) to `initiativeId`; 0 (its
    /// own bitmap) if all are busy. `fresh`: the bitmap was never written.
    function _takeBox(uint256 communityId, uint256 initiativeId) private returns (uint8 box, bool fresh) {
        uint256 holders = _boxHolders[communityId];
        for (uint256 k; k < SHARED_BOXES; ++k) {
            uint256 shift = k * 32;
            uint256 holder = uint32(holders >> shift);
            if (holder == 0 || _state(_initiatives[holder]) != InitiativeState.Collecting) {
                _boxHolders[communityId] =
                    (holders & ~(uint256(type(uint32).max) << shift)) | (initiativeId << shift);
                return (uint8(k + 1), holder == 0);
            }
        }
        return (0, true);
    }

    /// @dev Primes the words of the first `rollSize` roll indexes (a bounded number).
    function _primeBox(mapping(uint256 word => uint256) storage box, uint256 rollSize) private {
        uint256 words = (rollSize + BOX_BITS - 1) / BOX_BITS;
        if (words > BOX_PRIMED_WORDS_MAX) words = BOX_PRIMED_WORDS_MAX;
        for (uint256 w; w < words; ++w) {
            box[w] = BOX_PRIMED;
        }
    }

    /// @dev `initiativeId`'s co-signer bitmap: its own, or the community's shared one it holds.
    function _box(Initiative storage i, uint256 initiativeId)
        private
        view
        returns (mapping(uint256 word => uint256) storage)
    {
        uint256 box = i.box;
        return box == 0 ? _ownBoxes[initiativeId] : _sharedBoxes[i.communityId][box - 1];
    }

    /// @dev Opens the council proposal a reached initiative becomes. Checks-effects-interactions:
    /// the proposal's id is the Council's next (proposals are numbered in order, and nothing runs
    /// between the read and the call), so the initiative is marked promoted with it and the event
    /// emitted before the call; a Council answering another id reverts the batch.
    function _promote(Initiative storage i, uint256 initiativeId, uint32 total) private {
        uint256 proposalId = _council.proposalCount() + 1;
        i.promoted = true;
        // Council ids are at most 32 bits.
        i.proposalId = uint64(proposalId);
        emit InitiativePromoted(initiativeId, proposalId, total);
        InitiativeRules memory rules = i.rules;
        ICouncil.ProposalParams memory params = ICouncil.ProposalParams({
            communityId: i.communityId,
            textHash: i.textHash,
            kind: ICouncil.BallotKind.YesNoAbstain,
            optionCount: YES_NO_ABSTAIN_OPTIONS,
            opensAt: uint64(block.timestamp),
            closesAt: uint64(block.timestamp + rules.votingPeriod),
            quorumBps: rules.quorumBps,
            thresholdBps: rules.passBps,
            budgetAmount: i.budgetAmount,
            budgetCurrency: i.budgetCurrency
        });
        if (_council.openProposal(params) != proposalId) revert PromotionMismatch(initiativeId, proposalId);
    }
}
