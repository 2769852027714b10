// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title CurrencyCode
/// @notice The one rule for a currency code, shared by Council (a proposal's budget) and
/// CommunityFund (a fund's currency, income): three upper-case ASCII letters A-Z, as ISO 4217's
/// alphabetic codes are ("CNY", "EUR"). Lower case, digits, spaces and zero bytes are refused, so
/// one currency has one spelling and a budget can always be matched with the fund that pays it.
/// @dev The audit applies the same rule (`ledger.currency.is_currency_code`).
library CurrencyCode {
    /// @dev Whether `code` is three bytes each in "A".."Z".
    function isValid(bytes3 code) internal pure returns (bool) {
        for (uint256 i; i < 3; ++i) {
            bytes1 c = code[i];
            if (c < "A" || c > "Z") return false;
        }
        return true;
    }
}
