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
        i.box = _takeBox(communityId, initiativeId);
        // The author is on a roll, so the community exists and its id is below the Registry's count.
        i.communityId = uint64(communityId);
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
        counted = _countCoSignatures(initiativeId, coSignatures, indexesPlusOne);
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

    /// @dev For each co-signature, in this order: low-s signature by the named signer over its
    /// EIP-712 digest, on the roll at the snapshot, not yet counted; then {CoSigned}, or
    /// {CoSignatureSkipped} with the first rule broken.
    function _countCoSignatures(
        uint256 initiativeId,
        SignedCoSignature[] calldata coSignatures,
        uint256[] memory indexesPlusOne
    ) private returns (uint256 counted) {
        bytes32 domainSeparator = _domainSeparatorV4();
        mapping(uint256 word => uint256) storage box = _box(_initiatives[initiativeId], initiativeId);
        uint256 n = coSignatures.length;
        for (uint256 k; k < n; ++k) {
            SignedCoSignature calldata c = coSignatures[k];
            address signer = c.signer;
            bytes32 digest = _digest(domainSeparator, initiativeId, signer);
            (bool skipped, CoSignatureSkipReason reason) = _signatureFault(digest, signer, c.r, c.vs);
            if (!skipped) (skipped, reason) = _mark(box, initiativeId, indexesPlusOne[k]);
            if (skipped) {
                emit CoSignatureSkipped(initiativeId, signer, reason);
            } else {
                ++counted;
                emit CoSigned(initiativeId, signer, digest);
            }
        }
    }

    /// @dev Sets the bit of the co-signer with roll index `indexPlusOne - 1` for initiative
    /// `tag`; refuses one not on the roll at the snapshot (0) and one whose bit is already set. A
    /// word tagged for another initiative (one that stopped collecting) counts as empty.
    function _mark(mapping(uint256 word => uint256) storage box, uint256 tag, uint256 indexPlusOne)
        private
        returns (bool skipped, CoSignatureSkipReason reason)
    {
        if (indexPlusOne == 0) return (true, CoSignatureSkipReason.NotOnRoll);
        uint256 index = indexPlusOne - 1;
        uint256 bit = 1 << (index % BOX_BITS);
        uint256 word = box[index / BOX_BITS];
        if (word >> BOX_BITS != tag) word = tag << BOX_BITS;
        if (word & bit != 0) return (true, CoSignatureSkipReason.AlreadyCoSigned);
        box[index / BOX_BITS] = word | bit;
        return (false, reason);
    }

    /// @dev Hands the community's first free shared bitmap (never used, or held by an initiative
    /// that stopped collecting and so can take no more co-signatures) to `initiativeId`; 0 if all
    /// are busy.
    function _takeBox(uint256 communityId, uint256 initiativeId) private returns (uint8) {
        uint256 holders = _boxHolders[communityId];
        for (uint256 k; k < SHARED_BOXES; ++k) {
            uint256 shift = k * 32;
            uint256 holder = uint32(holders >> shift);
            if (holder == 0 || _state(_initiatives[holder]) != InitiativeState.Collecting) {
                _boxHolders[communityId] =
                    (holders & ~(uint256(type(uint32).max) << shift)) | (initiativeId << shift);
                return uint8(k + 1);
            }
        }
        return 0;
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

    /// @dev keccak256(0x1901 ‖ domainSeparator ‖ keccak256(abi.encode(COSIGNATURE_TYPEHASH,
    /// initiativeId, signer))), laid out in scratch memory because it runs for every co-signature.
    function _digest(bytes32 domainSeparator, uint256 initiativeId, address signer)
        private
        pure
        returns (bytes32 digest)
    {
        bytes32 typeHash = COSIGNATURE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), initiativeId)
            mstore(add(ptr, 0x40), signer)
            let structHash := keccak256(ptr, 0x60)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// @dev Whether the compact signature (r, vs) is not `signer`'s low-s signature of `digest`,
    /// and why.
    function _signatureFault(bytes32 digest, address signer, bytes32 r, bytes32 vs)
        private
        pure
        returns (bool skipped, CoSignatureSkipReason reason)
    {
        uint256 s = uint256(vs) & ((1 << 255) - 1);
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (s > HALF_N) return (true, CoSignatureSkipReason.MalleableSignature);
        uint8 v = uint8(uint256(vs) >> 255) + 27;
        address recovered = ecrecover(digest, v, r, bytes32(s));
        if (recovered == address(0) || recovered != signer) return (true, CoSignatureSkipReason.BadSignature);
        return (false, reason);
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
