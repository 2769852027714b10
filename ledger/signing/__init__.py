"""EIP-712 typed data for every signed message, and key handling."""
