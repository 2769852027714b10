"""Typed wrappers of the four contracts (`CouncilContract`, `FundContract`, `RegistryContract`,
`TimeBankContract`) for the tests and benchmarks that drive a deployment directly.

The running system does not use them: the relay lays out its calldata by hand (measured), the API
reads the index, and the audit decodes the chain on its own (it trusts none of this code).
"""
