"""Tests of the auditor: unit, property and fault-injection against real anvil."""
