// Things that must simply work: the audit report's unsigned state, saving a ballot receipt as a
// file or a QR code, and plain words for the demo's texts.

export const zh = {
  "polish.audit.unsigned": "未签名",
  "polish.audit.unsignedHint": "这份报告没有签名：无法确认它出自哪位审计员，也无法确认内容未被改动。请向审计员索取签名的报告。",
  "polish.receipt.save": "保存为文件",
  "polish.receipt.qr": "显示二维码",
  "polish.receipt.hideQr": "收起二维码",
  "polish.receipt.qrLabel": "选票回执二维码",
  "polish.receipt.saveHint": "保存的文件可以用 commons verify-receipt 文件名 在任何电脑上核验。",
  "polish.details": "详情",
  "polish.hashExplain": "链上只记录全文的“指纹”（keccak256 哈希）：全文哪怕改动一个字，指纹就完全不同。所以任何人都能核对这里显示的全文正是当初登记的那一份。",
  "polish.textOk": "这份全文与链上登记的一致，没有被改动",
  "polish.textBad": "这份全文与链上登记的不一致：它被改动过！",
  "polish.noText": "本服务器没有保存这个提案的全文。",
  "polish.evidenceHash": "证明材料的指纹：",
};

export const en: Record<keyof typeof zh, string> = {
  "polish.audit.unsigned": "unsigned",
  "polish.audit.unsignedHint": "This report is not signed: nothing says which auditor made it or that it was not changed since. Ask the auditor for a signed report.",
  "polish.receipt.save": "Save as a file",
  "polish.receipt.qr": "Show as a QR code",
  "polish.receipt.hideQr": "Hide the QR code",
  "polish.receipt.qrLabel": "Ballot receipt QR code",
  "polish.receipt.saveHint": "The saved file can be checked on any computer with commons verify-receipt FILE.",
  "polish.details": "Details",
  "polish.hashExplain": "The chain records only a fingerprint of the text (its keccak256 hash): change one letter and the fingerprint is entirely different. So anyone can check that the text shown here is the one recorded.",
  "polish.textOk": "This text is the one recorded on the chain, unchanged",
  "polish.textBad": "This text is NOT the one recorded on the chain: it was changed!",
  "polish.noText": "This server does not hold the proposal's full text.",
  "polish.evidenceHash": "Fingerprint of the evidence:",
};
