"""Tests of the auditor (issue 6): unit, property and fault-injection against real anvil."""
