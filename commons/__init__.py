"""The Commons Ledger app: the `commons` command, the demo seeder and the signing HTTP client,
composed from the `ledger` library and the API."""
