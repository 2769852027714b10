# ruff: noqa: RUF001 - Chinese text takes full-width punctuation
"""The HTML audit report's words in Chinese, keyed by the English the report is written in.

The report's data (rule names, hashes, addresses) stays as it is; its headings, column names and
sentences are said in the reader's language. A word missing here shows in English.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "zh")

ZH: Final[dict[str, str]] = {
    "Commons Ledger audit report": "社区账本审计报告",
    "Findings": "发现的问题",
    "Warnings (not checked)": "提示（未核查的部分）",
    "Admin acts": "管理员操作",
    "Proposals": "提案",
    "Funds": "资金",
    "Time bank": "时间银行",
    "Deployed code": "部署的合约代码",
    "Fund trail": "资金流向",
    "None.": "无。",
    "rule": "规则",
    "block": "区块",
    "tx": "交易",
    "expected": "应为",
    "found": "实际",
    "detail": "说明",
    "topic": "主题",
    "community": "社区",
    "act": "操作",
    "by": "操作者",
    "id": "编号",
    "roll": "名册",
    "recount": "重新计票",
    "on-chain": "链上",
    "outcome (recount / on-chain)": "结果（重新计票 / 链上）",
    "ballots": "选票",
    "currency": "币种",
    "income": "收入",
    "available": "可用",
    "reserved": "已预留",
    "paid": "已支付",
    "threshold": "审批人数",
    "accounts": "账户",
    "records": "记录",
    "reversals": "撤销",
    "sum": "合计",
    "limits": "额度",
    "contract": "合约",
    "address": "地址",
    "code": "代码",
    "creation": "创建",
    "step": "步骤",
    "proposal": "提案",
    "request": "申请",
    "amount": "金额",
    "from": "来自",
    "to": "去向",
    "party": "相关方",
    "reference": "凭据",
    "CLEAN": "通过",
    "FINDINGS": "发现问题",
    "INCOMPLETE": "未完成",
    "chain {chain}, blocks {first}-{last}": "链 {chain}，区块 {first}–{last}",
    "block hash": "区块哈希",
    "{ballots} ballots judged, {signatures} signatures verified; {proofs} storage words proven": (
        "核查选票 {ballots} 张，核验签名 {signatures} 个；证明存储字 {proofs} 个"
    ),
    "generated {when} (UTC)": "生成于 {when}（UTC）",
    "signed by": "签名密钥",
    "unsigned": "未签名",
    "language": "语言",
}


def word(text: str, lang: str) -> str:
    return ZH.get(text, text) if lang == "zh" else text
