// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title CommonsForwarder
/// @notice The trusted forwarder of every Commons Ledger contract: a resident or committee member
/// signs a request (EIP-712) with their own key and any relayer submits it, so the API can pay gas
/// but can never act in someone's name without their signature.
/// @dev OpenZeppelin's audited ERC-2771 forwarder as is; only the EIP-712 domain name is ours.
contract CommonsForwarder is ERC2771Forwarder {
    /// @notice A forwarder whose EIP-712 domain is named "CommonsForwarder".
    constructor() ERC2771Forwarder("CommonsForwarder") {}
}
