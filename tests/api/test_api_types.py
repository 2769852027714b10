"""The page's API types (web/src/schemas.ts) are the API's OpenAPI document, rendered."""

from __future__ import annotations

import copy

from api.main import create_app
from tools.api_types import OUTPUT, render


def test_checked_in_page_types_match_the_api_openapi_document() -> None:
    expected = render(create_app().openapi())
    assert OUTPUT.read_text() == expected, (
        "web/src/schemas.ts has drifted from the API: run python -m tools.api_types"
    )


def test_a_field_added_to_a_response_changes_the_rendered_types() -> None:
    openapi = create_app().openapi()
    changed = copy.deepcopy(openapi)
    changed["components"]["schemas"]["BalanceOut"]["properties"]["hours"] = {"type": "number"}
    assert render(changed) != render(openapi)
    assert "  hours?: number;" in render(changed)


def test_paged_responses_render_as_the_generic_page() -> None:
    text = render(create_app().openapi())
    assert "export interface Page<T> {\n  items: T[];" in text
    assert "Page_" not in text
    assert (
        'kind: "YesNoAbstain" | "MultipleChoice" | "SecretYesNoAbstain" | "SecretMultipleChoice";'
        in text
    )
