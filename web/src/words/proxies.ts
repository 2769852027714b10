// Proxies: why the API refuses an appointment or a proxy ballot, and what to do. Both languages,
// same keys.

export const zh = {
  "why.noMandate": "这位居民没有委托这个人代为投票（或委托已撤销、只针对另一项表决）。代理人不能再转委托。",
  "todo.noMandate": "请居民本人先委托代理人，或由居民自己投票。",
  "why.selfProxy": "居民不能委托自己做代理人。",
  "todo.selfProxy": "请选择社区里的另一位居民。",
  "why.proxyOverLimit": "这位代理人已经持有社区规定上限的委托。",
  "todo.proxyOverLimit": "请选择另一位代理人，或向社区管理员询问上限。",
};

export const en: Record<keyof typeof zh, string> = {
  "why.noMandate": "This resident has not appointed this person as their proxy (or revoked it, or appointed them for another vote). A proxy cannot pass a mandate on.",
  "todo.noMandate": "Ask the resident to appoint the proxy first, or to vote themself.",
  "why.selfProxy": "A resident cannot be their own proxy.",
  "todo.selfProxy": "Choose another resident of the community.",
  "why.proxyOverLimit": "This proxy already holds as many mandates as the community allows.",
  "todo.proxyOverLimit": "Choose another proxy, or ask the community admin about the limit.",
};
