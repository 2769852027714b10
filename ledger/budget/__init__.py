"""Participatory budgeting off the chain: reference selection, ballot rules, tallies, exports.

Pure functions over plain values, shared by the audit, the relay, the API and the exports, so the
rules the ParticipatoryBudget contract enforces are stated once in Python.
"""
