"""Display names: what a member may call themselves, and how a search matches one.

A name is personal data chosen by its owner: it lives off-chain (ledger/offchain.py), is shown
only to signed-in members of the same community, and never goes on-chain or into a log.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 40
# Characters that would hide or reorder what a reader sees (bidi overrides and isolates, which
# can make one name pass for another) on top of every control, unassigned or private-use one.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
TAG_CHARS = 4


class InvalidName(ValueError):
    """A name that breaks a rule; the message says which, never the name itself."""


def normalise_name(raw: str) -> str:
    """`raw` in NFC, trimmed, runs of inner spaces made one; 1-40 characters and nothing that hides
    or reorders text, else InvalidName."""
    name = unicodedata.normalize("NFC", raw).strip()
    if any(c in BIDI_CONTROLS or unicodedata.category(c) in REFUSED_CATEGORIES for c in name):
        raise InvalidName("a name may not hold control, private-use or unassigned characters")
    # Only spaces are left between words now: a tab or a line break inside was refused above.
    name = " ".join(name.split())
    if not name:
        raise InvalidName("a name needs at least one visible character")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidName(f"a name is at most {MAX_NAME_CHARS} characters")
    return name


def search_key(text: str) -> str:
    """What a search compares: full-width letters as their plain forms (NFKC), case folded,
    spaces collapsed, so full-width WANG, `wang` and `Wang` are one."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def name_tag(address: str) -> str:
    """The short mark that tells two members of one name apart: the address's last hex digits."""
    return address[-TAG_CHARS:].lower()
