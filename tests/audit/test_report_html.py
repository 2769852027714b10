"""The HTML report as a resident reads it: in Chinese or English, money in yuan with its sign
(not in fen), the generation time as a date, and tables that scroll in their own box on a phone
instead of widening the page."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from ledger.audit.report import ReportError, money, render, render_html, sign
from tests.audit.test_report import _report


def _with_fund() -> dict[str, Any]:
    report = copy.deepcopy(_report())
    report["generated_at"] = 1_780_000_000
    report["funds"] = [{"community": 1, "currency": "CNY", "total_income": 920_000,
                        "available": 420_000, "reserved": 300_000, "total_paid": 200_000,
                        "threshold": 2}]  # fmt: skip
    return report


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(920_000, "CNY", "¥9,200.00"), (5, "CNY", "¥0.05"), (-150, "USD", "-$1.50"),
     (1200, "JPY", "¥1,200"), (123_456, "CHF", "1,234.56 CHF"), (7, None, "7")],
)  # fmt: skip
def test_money_is_shown_in_major_units_with_its_currency(
    amount: int, currency: str | None, shown: str
) -> None:
    assert money(amount, currency) == shown


def test_html_report_shows_money_in_yuan_not_fen() -> None:
    page = render_html(sign(_with_fund(), None))
    assert "¥9,200.00" in page and "¥2,000.00" in page and "¥8,000.00" in page  # fund, trail
    assert ">920000<" not in page and ">800000<" not in page


def test_html_report_in_chinese_says_its_headings_and_verdict_in_chinese() -> None:
    page = render_html(sign(_with_fund(), None), "zh")
    assert "<html lang='zh'>" in page
    for words in ("社区账本审计报告", "发现的问题", "资金流向", "重新计票", "未签名", "生成于"):
        assert words in page, words
    assert "Fund trail" not in page and "Findings" not in page
    assert "council.tally" in page  # rule names and data stay as they are
    assert "href='?format=html&amp;lang=en'" in page


def test_html_report_in_english_by_default_with_a_link_to_chinese() -> None:
    page = render_html(sign(_with_fund(), None))
    assert (
        "<html lang='en'>" in page
        and "Fund trail" in page
        and "href='?format=html&amp;lang=zh'" in page
    )
    assert "generated 2026-05-28 20:26:40 (UTC)" in page  # a date, not 1780000000
    with pytest.raises(ReportError, match="unknown report language"):
        render_html(sign(_with_fund(), None), "fr")


def test_html_report_fits_a_phone_every_table_scrolls_in_its_own_box() -> None:
    page = render_html(sign(_with_fund(), None))
    assert "width=device-width" in page
    tables = page.count("<table>")
    assert tables and page.count("<div class='scroll'><table>") == tables
    assert re.search(r"\.scroll\{overflow-x:auto", page)


def test_render_gives_the_html_in_the_language_asked() -> None:
    content, media = render(sign(_with_fund(), None), "html", "zh")
    assert media.startswith("text/html") and content.startswith("<!doctype html><html lang='zh'>")
