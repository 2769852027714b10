// Secret ballots: why the SecretBallot contract refused a step (trustees' key generation,
// challenges, partial decryptions, the tally). Both languages, same keys.

export const zh = {
  "why.trusteeOnly": "只有这次秘密投票的受托人（且没有被取消资格）才能做这一步。",
  "todo.trusteeOnly": "请用委员会指定的受托人密钥来做。",
  "why.secretPhase": "秘密投票现在不在这一步的时间段内，或者这一步已经做过了。",
  "todo.secretPhase": "请查看这次投票的时间表和当前阶段，在对应的时间里再做。",
  "why.secretRefused": "合约检查了提交的数据（点、证明、份额或计票结果），没有通过。",
  "todo.secretRefused": "请用本程序重新生成这份数据再提交；不要手工修改。",
};

export const en: Record<keyof typeof zh, string> = {
  "why.trusteeOnly": "Only a trustee of this secret vote (not disqualified) can take this step.",
  "todo.trusteeOnly": "Use the trustee key the committee named.",
  "why.secretPhase": "The secret vote is not in this step's time window now, or the step was already taken.",
  "todo.secretPhase": "Check the vote's schedule and its current phase, and take the step in its window.",
  "why.secretRefused": "The contract checked what was sent (a point, a proof, a share or the tally) and it did not hold.",
  "todo.secretRefused": "Make it again with this program and send that; do not edit it by hand.",
};
