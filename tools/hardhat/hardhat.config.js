// Hardhat's node as a plain JSON-RPC chain for tests/e2e/test_hardhat.py: chain id 31337 and
// the standard development mnemonic (the same ten accounts as anvil's), automining.
module.exports = { networks: { hardhat: { chainId: 31337 } } };
