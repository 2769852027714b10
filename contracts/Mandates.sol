// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IMandates} from "./interfaces/IMandates.sol";
import {IRegistryView} from "./interfaces/IRegistryView.sol";
import {HALF_N} from "./libraries/Secp256k1.sol";

/// @title Mandates
/// @notice Proxy mandates for Commons Ledger communities: appointed and revoked by the resident's
/// signature, relayed in batches, limited per proxy by the community's admin.
/// @dev The Council and Elections read {proxiesFor} and {proxyLimit} at each proxy ballot; this
/// contract knows nothing of ballots.
contract Mandates is IMandates, EIP712, ERC2771Context {
    /// @inheritdoc IMandates
    uint8 public constant DEFAULT_PROXY_LIMIT = 2;
    /// @inheritdoc IMandates
    bytes32 public constant MANDATE_TYPEHASH = keccak256(
        "Mandate(uint256 communityId,address resident,address proxy,uint8 scope,uint256 voteId,uint256 nonce)"
    );
    /// @inheritdoc IMandates
    bytes32 public constant REVOCATION_TYPEHASH =
        keccak256("MandateRevocation(uint256 communityId,address resident,uint256 nonce)");

    /// @dev One word: the proxy, the scope and the vote id (below 2^64).
    struct Mandate {
        address proxy;
        MandateScope scope;
        uint64 voteId;
    }

    IRegistryView private immutable _registry;
    mapping(uint256 communityId => mapping(address resident => Mandate)) private _mandates;
    mapping(uint256 communityId => mapping(address proxy => uint256)) private _held;
    /// @dev The limit plus one once the admin set it; 0: never set (DEFAULT_PROXY_LIMIT).
    mapping(uint256 communityId => uint256) private _limitPlusOne;
    mapping(address resident => uint256) private _nonces;

    /// @notice Wires the mandates to their forwarder and to the Registry they read rolls and admins from.
    /// @param trustedForwarder The ERC-2771 forwarder allowed to relay the admin's signed requests.
    /// @param registry_ The Registry holding rolls and community admins.
    constructor(address trustedForwarder, address registry_)
        EIP712("CommonsMandates", "1")
        ERC2771Context(trustedForwarder)
    {
        _registry = IRegistryView(registry_);
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IMandates
    function appoint(SignedMandate[] calldata mandates) external returns (uint256 counted) {
        for (uint256 i; i < mandates.length; ++i) {
            SignedMandate calldata m = mandates[i];
            MandateSkipReason fault;
            bool ok;
            (ok, fault) = _appointFault(m);
            if (ok) {
                _appoint(m);
                ++counted;
            } else {
                emit MandateSkipped(m.communityId, m.resident, false, fault);
            }
        }
    }

    /// @inheritdoc IMandates
    function revoke(SignedRevocation[] calldata revocations) external returns (uint256 counted) {
        for (uint256 i; i < revocations.length; ++i) {
            SignedRevocation calldata v = revocations[i];
            bytes32 digest = _revocationDigest(v.communityId, v.resident, v.nonce);
            (bool ok, MandateSkipReason fault) = _signedInOrder(digest, v.resident, v.nonce, v.r, v.vs);
            if (ok && _mandates[v.communityId][v.resident].proxy == address(0)) {
                (ok, fault) = (false, MandateSkipReason.NoMandate);
            }
            if (!ok) {
                emit MandateSkipped(v.communityId, v.resident, true, fault);
                continue;
            }
            _nonces[v.resident] = v.nonce + 1;
            _end(v.communityId, v.resident, v.nonce);
            ++counted;
        }
    }

    /// @inheritdoc IMandates
    function setProxyLimit(uint256 communityId, uint8 limit) external {
        address sender = _msgSender();
        if (_registry.communityAdmin(communityId) != sender) revert NotCommunityAdmin(communityId, sender);
        _limitPlusOne[communityId] = uint256(limit) + 1;
        emit ProxyLimitSet(communityId, limit, sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMandates
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IMandates
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IMandates
    function proxyLimit(uint256 communityId) public view returns (uint8) {
        uint256 stored = _limitPlusOne[communityId];
        return stored == 0 ? DEFAULT_PROXY_LIMIT : uint8(stored - 1);
    }

    /// @inheritdoc IMandates
    function nonceOf(address resident) external view returns (uint256) {
        return _nonces[resident];
    }

    /// @inheritdoc IMandates
    function mandateOf(uint256 communityId, address resident) external view returns (MandateView memory) {
        Mandate storage m = _mandates[communityId][resident];
        return MandateView(m.proxy, m.scope, m.voteId);
    }

    /// @inheritdoc IMandates
    function mandatesHeld(uint256 communityId, address proxy) external view returns (uint256) {
        return _held[communityId][proxy];
    }

    /// @inheritdoc IMandates
    function proxiesFor(uint256 communityId, MandateScope scope, uint256 voteId, address[] calldata residents)
        external
        view
        returns (address[] memory proxies)
    {
        proxies = new address[](residents.length);
        for (uint256 i; i < residents.length; ++i) {
            Mandate storage m = _mandates[communityId][residents[i]];
            if (m.scope == MandateScope.AllVotes || (m.scope == scope && m.voteId == voteId)) {
                proxies[i] = m.proxy;
            }
        }
    }

    /// @inheritdoc IMandates
    function mandateDigest(
        uint256 communityId,
        address resident,
        address proxy,
        MandateScope scope,
        uint256 voteId,
        uint256 nonce
    ) external view returns (bytes32) {
        return _mandateDigest(communityId, resident, proxy, scope, voteId, nonce);
    }

    /// @inheritdoc IMandates
    function revocationDigest(uint256 communityId, address resident, uint256 nonce) external view returns (bytes32) {
        return _revocationDigest(communityId, resident, nonce);
    }

    // ---------------------------------------------------------------- internals

    /// @dev The first rule `m` breaks, in the order {IMandates-appoint} lists them.
    function _appointFault(SignedMandate calldata m) private view returns (bool ok, MandateSkipReason fault) {
        bytes32 digest = _mandateDigest(m.communityId, m.resident, m.proxy, m.scope, m.voteId, m.nonce);
        (ok, fault) = _signedInOrder(digest, m.resident, m.nonce, m.r, m.vs);
        if (!ok) return (ok, fault);
        bool allVotes = m.scope == MandateScope.AllVotes;
        if (allVotes ? m.voteId != 0 : (m.voteId == 0 || m.voteId > type(uint64).max)) {
            return (false, MandateSkipReason.InvalidScope);
        }
        if (m.proxy == m.resident) return (false, MandateSkipReason.SelfProxy);
        if (!_registry.isResident(m.communityId, m.resident)) return (false, MandateSkipReason.ResidentNotOnRoll);
        if (!_registry.isResident(m.communityId, m.proxy)) return (false, MandateSkipReason.ProxyNotOnRoll);
        uint256 held = _held[m.communityId][m.proxy];
        // Re-appointing the same proxy (another scope) replaces a mandate it already counts.
        if (_mandates[m.communityId][m.resident].proxy == m.proxy) --held;
        if (held >= proxyLimit(m.communityId)) return (false, MandateSkipReason.ProxyOverLimit);
        return (true, fault);
    }

    function _appoint(SignedMandate calldata m) private {
        _nonces[m.resident] = m.nonce + 1;
        if (_mandates[m.communityId][m.resident].proxy != address(0)) _end(m.communityId, m.resident, m.nonce);
        // The scope check bounded voteId below 2^64.
        _mandates[m.communityId][m.resident] = Mandate(m.proxy, m.scope, uint64(m.voteId));
        ++_held[m.communityId][m.proxy];
        emit MandateAppointed(m.communityId, m.resident, m.proxy, m.scope, m.voteId, m.nonce);
    }

    /// @dev Ends `resident`'s live mandate in `communityId`.
    function _end(uint256 communityId, address resident, uint256 nonce) private {
        address proxy = _mandates[communityId][resident].proxy;
        --_held[communityId][proxy];
        delete _mandates[communityId][resident];
        emit MandateRevoked(communityId, resident, proxy, nonce);
    }

    /// @dev Whether `digest` carries a low-s signature by `signer` and `nonce` is the signer's next.
    function _signedInOrder(bytes32 digest, address signer, uint256 nonce, bytes32 r, bytes32 vs)
        private
        view
        returns (bool, MandateSkipReason)
    {
        bytes32 s = vs & bytes32(uint256(type(uint256).max >> 1));
        // ecrecover accepts the high-s twin of every signature: refuse it first.
        if (uint256(s) > HALF_N) return (false, MandateSkipReason.MalleableSignature);
        uint8 v = uint8((uint256(vs) >> 255) + 27);
        address recovered = ecrecover(digest, v, r, s);
        if (recovered == address(0) || recovered != signer) return (false, MandateSkipReason.BadSignature);
        if (nonce != _nonces[signer]) return (false, MandateSkipReason.StaleNonce);
        return (true, MandateSkipReason.BadSignature);
    }

    function _mandateDigest(
        uint256 communityId,
        address resident,
        address proxy,
        MandateScope scope,
        uint256 voteId,
        uint256 nonce
    ) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(MANDATE_TYPEHASH, communityId, resident, proxy, scope, voteId, nonce)));
    }

    function _revocationDigest(uint256 communityId, address resident, uint256 nonce) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REVOCATION_TYPEHASH, communityId, resident, nonce)));
    }
}
