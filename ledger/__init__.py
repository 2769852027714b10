"""Commons Ledger core: everything but HTTP. Usable as a library and through `commons`."""
