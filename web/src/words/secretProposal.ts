// Council proposals decided by secret ballot: the proposal's screen, why the Council refused a
// step of one (an open ballot, linking its secret vote, finalizing before the tally), and the
// outcome of one whose tally was never published. Both languages, same keys.

export const zh = {
  "sp.heading": "秘密投票",
  "sp.explain": "这个提案用秘密投票表决：每张选票在手机里加密后才提交，没有人能看到谁投了什么；结果由受托人共同解密并经合约验证后，按同样的法定人数和通过比例决定提案。",
  "sp.toVote": "去秘密投票 {id}",
  "sp.notLinked": "委员会还没有为这个提案关联秘密投票；如果到开始投票时仍未关联，就没有人能投票。",
  "sp.badge": "秘密投票",
  "why.secretProposal": "这个提案用秘密投票表决，不接受公开投票。",
  "todo.secretProposal": "请到它的秘密投票页面去投票。",
  "why.secretLink": "这个秘密投票不能和这个提案关联：社区、问题、选项数、时间或名册不一致，或者已经关联过，或者提案已经开始投票。",
  "todo.secretLink": "请在提案开始投票前，用同一社区、同一文本、同样选项数和同样时间开设的秘密投票来关联。",
  "why.secretTally": "这个提案的秘密投票还没有公布经过验证的计票结果。",
  "todo.secretTally": "请等受托人公布部分解密并完成秘密投票的计票后再结算提案；挑战期结束 30 天后仍没有结果的，任何人都可以把提案结算为“未决”。",
  "outcome.TallyNeverPublished": "未决：秘密投票结果从未公布",
  "outcome.long.TallyNeverPublished": "秘密投票的受托人在期限内没有公布经过证明的计票结果，这项提案没有结论。",
};

export const en: Record<keyof typeof zh, string> = {
  "sp.heading": "Secret ballot",
  "sp.explain":
    "This proposal is decided by secret ballot: each ballot is encrypted on the phone before it is sent, so nobody sees who voted for what; the trustees decrypt the result together, the contract checks it, and the proposal is decided by the same quorum and threshold.",
  "sp.toVote": "Go to secret vote {id}",
  "sp.notLinked": "The committee has not linked a secret vote to this proposal yet; if none is linked when voting opens, nobody can vote.",
  "sp.badge": "Secret ballot",
  "why.secretProposal": "This proposal is decided by secret ballot: it takes no open ballots.",
  "todo.secretProposal": "Vote on its secret vote's screen.",
  "why.secretLink":
    "This secret vote cannot decide this proposal: its community, question, option count, times or roll differ, one of them is already linked, or the proposal has opened.",
  "todo.secretLink":
    "Before the proposal opens, link a secret vote of the same community, text, option count and times.",
  "why.secretTally": "This proposal's secret vote has no proven tally yet.",
  "todo.secretTally":
    "Wait until the trustees have published their partial decryptions and the secret vote is finalized, then finalize the proposal; 30 days after its challenge window with no tally, anyone may finalize it as not decided.",
  "outcome.TallyNeverPublished": "not decided: the secret tally was never published",
  "outcome.long.TallyNeverPublished": "The secret vote's trustees did not publish its proven tally in time; the proposal is not decided.",
};
