"""Fixtures shared by the contract tests (domain helpers are appended below by each domain)."""
