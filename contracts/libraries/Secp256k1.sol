// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev Half the secp256k1 group order n. ecrecover accepts both (r, s) and its twin (r, n - s);
/// a signature counts only with s at most this (EIP-2), so each signed message has one
/// signature. OpenZeppelin's ECDSA applies the same bound; the assembly batch loops (Council's
/// ballots, TimeBank's records) check it themselves.
uint256 constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
