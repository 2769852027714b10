// Casting an election ballot for a resident whose mandate you hold. Both languages, same keys.

export const zh = {
  "eproxy.heading": "委托您投票的居民",
  "eproxy.hint": "这些居民委托您在这次选举中替他们投票。他们自己投的票总是优先：无论在您之前还是之后。",
  "eproxy.scope.AllVotes": "所有表决",
  "eproxy.scope.Election": "仅限这次选举",
  "eproxy.voteFor": "替此人投票",
  "eproxy.votingFor": "您正在替这位居民投票：",
  "eproxy.back": "回到我自己的选票",
  "eproxy.castFor": "已替此人投票",
  "eproxy.channel": "代理 {n}",
};

export const en: Record<keyof typeof zh, string> = {
  "eproxy.heading": "Residents who asked you to vote for them",
  "eproxy.hint": "These residents gave you their mandate for this election. Their own ballot always wins, whether cast before yours or after.",
  "eproxy.scope.AllVotes": "every vote",
  "eproxy.scope.Election": "this election only",
  "eproxy.voteFor": "Vote for them",
  "eproxy.votingFor": "You are voting for:",
  "eproxy.back": "Back to my own ballot",
  "eproxy.castFor": "Ballot cast for them",
  "eproxy.channel": "by proxy {n}",
};
