"""Output checks before a draft is offered: no PII echoed, no system-prompt leak, no link, promise or request
that the FAQ and the store policy do not support.

Checks are bilingual regular expressions applied clause by clause; a clause that negates ("不会补发",
"we cannot refund") is not a promise, and a clause the cited FAQ answers themselves contain is supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agentdesk.ai.redact import PLACEHOLDER, find_pii
from agentdesk.ai.text import clean, for_rules


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


_URL = _rx(
    r"\b(?:https?|ftp|file|javascript|data):[^\s<>\"'）)\]]*",
    r"\bwww\.[^\s<>\"'）)\]]+",
    r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|cn|io|example|xyz|top|info|biz|me|co|app|link|ly)\b(?:/[^\s]*)?",
    r"\[link=",
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEGATION = _rx(
    r"不(?!过|久|少|错|同|论|管|仅|但|如|用担心|必担心|好意思)|没(?!问题|关系|事)|无法|未(?!来)|别|勿|无需",
    r"\bnot?\b|\bnever\b|\bcannot\b|\bcan'?t\b|\bwon'?t\b|\bunable\b|\bdon'?t\b|\bdoesn'?t\b|\bisn'?t\b|\baren'?t\b",
)
#: clause boundaries: Chinese punctuation, and English , . only before a space (keeps "1,200" and "3.5")
_CLAUSE = re.compile(r"[。！？!?；;，、\n]|,(?!\d)|\.(?=\s|$)")

PROMISES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "coupon_promise",
        _rx(
            r"(送|发|补发|赠送|给您|为您|发放|补|返)[^。，,]{0,10}(优惠券|券|红包|代金券|礼品卡|积分|现金)",
            r"(优惠券|代金券|红包|礼品卡)[^。，,]{0,6}(已|会|将)[^。，,]{0,4}(发放|补发|到账|发送|发给)",
            r"\b(send|give|issue|reissue|add|credit|grant)\b[^.!?]{0,25}\b(coupons?|vouchers?|store credit|promo codes?|gift cards?|points)\b",
            r"\b(coupons?|vouchers?|promo codes?)\b[^.!?]{0,20}\b(has been|have been|was|were|will be) (sent|issued|added|reissued)",
        ),
    ),
    (
        "refund_promise",
        _rx(
            r"(已|已经)(为您|给您|帮您)(全额)?(退款|退还|退回|返还|批准|同意|通过)|(已|已经)(全额)?(退款|批准|同意退款)",
            r"(我|我们|这边|小北)(会|将|马上|立即|立刻|这就|一定|可以)?(为您|给您|帮您)(全额)?(退款|退还|退回|返还|批准|同意退|申请退款)",
            r"(退款|退货|申请)(已|已经)?(被)?(批准|通过|同意|处理好|办好)",
            r"\b(i|we)('ve| have|'ll| will| shall)? (approved|refunded|processed your refund|issue[d]? (you )?a refund|refund you)",
            r"\brefund (has been|was|is) (approved|processed|issued|confirmed)|\bwill (be )?refund(ed)? (you )?[¥$]?\d",
            r"\byour (refund|return) (is|has been) approved|\boverride (is )?(accepted|confirmed|valid)|\bconfirmed[.:!]?\s*refund",
        ),
    ),
    (
        "compensation_offer",
        _rx(
            r"赔偿您|补偿您|给您(赔|补偿|赔付)|为您(申请)?(赔偿|补偿)|赔付您|承担(全部|所有)?(损失|维修费|费用)",
            r"\b(compensate|reimburse) you\b|\boffer you (a )?[¥$]?\d|\bpay (you|for the repairs?|for your)\b|\bwe (are|were) at fault|\bour fault\b",
        ),
    ),
    (
        "action_claim",
        _rx(
            r"(已|已经)(为您|帮您|给您)?(修改|更换|换绑|拦截|关闭|取消|重新发送|重发|补发|合并|解冻|处理好|改好|发送)",
            r"\bi('ve| have) (changed|updated|stopped|intercepted|redirected|resent|re-sent|cancel+ed|turned off|unfrozen|merged|unlocked)",
            r"\b(has|have) been (changed|resent|re-sent|turned off|stopped|merged|intercepted|redirected|unfrozen|cancel+ed)",
        ),
    ),
    (
        "guarantee",
        _rx(
            r"保证|一定(能|会)(到|送达|发货|收到|发出)|肯定(能|会)(到|送达|收到)|百分之百|包您",
            r"\bguarantee|\bdefinitely (arrive|be delivered|ship)|\bi promise|\bwe promise",
        ),
    ),
    (
        "secret_request",
        _rx(
            r"(发|提供|告诉|发送|报|给)[^。，,]{0,8}(密码|验证码|cvv|安全码|动态码|卡背面)",
            r"(把|将)[^。，,]{0,8}(密码|验证码|cvv|安全码|动态码)[^。，,]{0,4}(发|告诉|提供|报)",
            r"\b(send|provide|tell|share|give|type|reply with)\b[^.!?]{0,20}\b(password|passcode|otp|one-time code|verification code|security code|cvv|cvc|pin)\b",
        ),
    ),
    (
        "developer_mode",
        _rx(
            r"(已|现在)?进入(了)?(开发者|管理员|调试)模式",
            r"\b(developer|admin|debug) mode (is )?(on|enabled|activated)|\bentering (developer|admin) mode",
        ),
    ),
)
_LEAK_PHRASES = _rx(
    r"(我的|以下是|这是)(系统)?(提示词|指令|设定)(是|如下|[:：])",
    r"\b(my|the) (system prompt|instructions) (is|are|say)\b|\bhere (is|are) my (system prompt|instructions)",
)


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text) if c.strip()]


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", clean(s)).lower()


def check_output(
    text: str,
    *,
    faq_texts: Iterable[str] = (),
    pii_values: Mapping[str, str] | None = None,
    system_prompt: str = "",
    canary: str | None = None,
) -> list[Violation]:
    """Every reason `text` must not be offered as a draft (empty list = fine)."""
    violations: list[Violation] = []
    body = for_rules(text)
    support = _norm(" ".join(faq_texts))
    # 1. PII echoed: anything that looks like PII, a placeholder, or a value the customer gave.
    for kind, value in find_pii(body):
        violations.append(Violation("pii_echo", f"{kind} {_mask(value)}"))
    if PLACEHOLDER.search(body):
        violations.append(Violation("pii_echo", f"placeholder {PLACEHOLDER.search(body).group(0)}"))  # type: ignore[union-attr]
    flat = re.sub(r"[\s-]", "", body)
    for value in (pii_values or {}).values():
        v = re.sub(r"[\s-]", "", value)
        if len(v) >= 4 and v in flat and not any(v in x.detail for x in violations):
            violations.append(Violation("pii_echo", f"customer value {_mask(value)}"))
    # 2. System prompt leak: the canary, long verbatim runs of the instructions, or "my instructions are".
    if canary and canary in text:
        violations.append(Violation("prompt_leak", "canary token"))
    if system_prompt and _shares_run(_norm(system_prompt), _norm(body), support):
        violations.append(Violation("prompt_leak", "verbatim instructions"))
    if _LEAK_PHRASES.search(body):
        violations.append(Violation("prompt_leak", "describes its instructions"))
    # 3. Terminal control sequences or markup in a reply meant for a customer.
    if _CONTROL.search(text):
        violations.append(Violation("control_chars", "escape, control or bidi characters"))
    # 4. Links the cited FAQ answers do not contain.
    for url in _URL.finditer(body):
        if _norm(url.group(0)) not in support:
            violations.append(Violation("link", url.group(0)[:80]))
    # 5. Promises, claims and requests outside policy.
    for clause in _clauses(body):
        for kind, pattern in PROMISES:
            if pattern.search(clause) is None:
                continue
            if kind != "developer_mode" and _NEGATION.search(clause):
                continue
            if _norm(clause) in support:  # the cited FAQ itself says it
                continue
            violations.append(Violation(kind, clause.strip()[:80]))
    return violations


def _shares_run(prompt: str, reply: str, support: str, size: int = 28) -> bool:
    """True when the reply copies `size` consecutive characters of the instructions (not from the FAQ)."""
    if len(reply) < size:
        return False
    for i in range(0, max(1, len(prompt) - size), 7):
        piece = prompt[i : i + size]
        if len(piece) == size and piece in reply and piece not in support:
            return True
    return False


def _mask(value: str) -> str:
    v = re.sub(r"\s", "", value)
    return ("*" * max(0, len(v) - 2) + v[-2:]) if len(v) > 2 else "**"
