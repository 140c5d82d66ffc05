"""PII redaction before any text leaves the machine for a model.

Detected values are replaced by numbered placeholders (`[CARD_1]`, `[PHONE_1]`...); the mapping stays in
the `Redaction` object on this machine and is never sent anywhere. Detection runs on cleaned text (NFKC,
invisible characters removed), so full-width digits and zero-width characters cannot smuggle a number past
it. Order numbers (`NW` + 12 digits) are not PII and are kept: the agent and the model need them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"\[(CARD|CVV|EXPIRY|ID|PHONE|EMAIL|OTP|PASSWORD|ADDRESS|BANK)_\d+\]")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by spaces or dashes (not part of a longer digit run or an order number).
_CARDLIKE = re.compile(r"(?<![\dA-Za-z])(?:\d[ -]?){12,18}\d(?!\d)")
_ID18 = re.compile(
    r"(?<![\dA-Za-z])[1-9]\d{5}[ -]?(?:18|19|20)\d{2}[ -]?(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[ -]?\d{3}[\dXx]"
    r"(?![\dA-Za-z])"
)
_ID15 = re.compile(r"(?<=身份证)\D{0,6}(\d{15})(?!\d)")
_CVV = re.compile(
    r"(?:cvv2?|cvc2?|csc|security code|安全码|校验码|背面(?:的)?(?:三|3)位(?:数|码)?)\D{0,12}?(\d{3,4})(?!\d)",
    re.I,
)
_EXPIRY = re.compile(
    r"(?:exp(?:iry|iration|\.)?(?: date)?|valid (?:thru|through)|有效期(?:至|到)?)\s*[:：]?\s*(\d{1,2}\s*/\s*\d{2,4})",
    re.I,
)
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"  # mainland mobile
    r"|(?<![\dA-Za-z])0\d{2,3}-?\d{7,8}(?!\d)"  # landline
    r"|(?<![\dA-Za-z])\+\d{1,3}[ -]?\(?\d{1,4}\)?(?:[ -]?\d{2,4}){2,4}(?!\d)"  # international
    r"|(?<![\dA-Za-z])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"  # 555-123-4567
)
_OTP = re.compile(
    r"(?:验证码|校验码|动态码|动态密码|短信码|确认码|otp|one[- ]time (?:code|password|pin)|verification code|"
    r"security code|auth(?:entication)? code|passcode|\bcode\b)\D{0,8}?(\d{4,8})(?!\d)"
    r"|(?<!\d)(\d{4,8})\s*(?:是|为)?(?:我的)?(?:验证码|动态码|校验码)",
    re.I,
)
_PASSWORD = re.compile(
    r"(?:密码|口令|password|passwd|pwd|pin)\s*(?:是|为|:|：|=|is|was|:)\s*[\"'“]?([^\s\"'”，。,]{3,40})", re.I
)
# A password typed without a separator ("密码 abc12345"): only values mixing letters and digits, or 6+ digits.
_PASSWORD_BARE = re.compile(
    r"(?:密码|口令|password|passwd|pwd)\s+((?=[^\s，。,]*\d)(?=[^\s，。,]*[A-Za-z])[^\s\"'”，。,]{4,40}|\d{6,})(?![\w])",
    re.I,
)
#: residential compounds and buildings without a street number ("阳光花园3栋2单元501")
_CN_BUILDING = re.compile(
    r"[\u4e00-\u9fff]{2,10}(?:小区|花园|公寓|大厦|家园|苑|新村|广场|公馆)[A-Za-z]?"
    r"(?:[0-9一二三四五六七八九十]+(?:号楼|栋|幢|座|单元|室|号|层|楼)[-\s]?)+(?:\d{2,4}(?:室|房)?)?"
)
_CN_ADDRESS = re.compile(
    r"(?:[\u4e00-\u9fff]{2,8}(?:省|自治区|市))?(?:[\u4e00-\u9fff]{1,8}(?:市|区|县|镇|乡))*"
    r"[\u4e00-\u9fff0-9]{1,12}(?:路|街|大街|道|巷|弄|胡同|村|里|大道)[0-9一二三四五六七八九十]{1,5}(?:号|號)"
    r"(?:[\u4e00-\u9fffA-Za-z0-9]{0,10}?(?:[0-9一二三四五六七八九十]+(?:号楼|栋|幢|座|号院|单元|室|层|楼|户)))*"
)
_EN_ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][A-Za-z]+\s+){1,4}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|"
    r"Court|Ct|Way|Place|Pl|Terrace|Close|Crescent)\b\.?(?:,?\s*(?:Apt|Apartment|Unit|Suite|Flat|#)\.?\s*\w+)?"
)
_CARD_KEYWORD = re.compile(r"卡号|银行卡|信用卡|储蓄卡|借记卡|card|visa|mastercard|amex|unionpay|银联", re.I)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def china_id_ok(value: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character resident ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    body, check = value[:17], value[17].upper()
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return "10X98765432"[total % 11] == check


@dataclass(slots=True)
class Redaction:
    """Redacted text plus the local mapping placeholder → original value (never sent anywhere)."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)

    def kinds(self) -> set[str]:
        return {k.strip("[]").rsplit("_", 1)[0] for k in self.mapping}


class Redactor:
    """Numbers placeholders consistently across several texts (one conversation)."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}

    def _token(self, kind: str, value: str) -> str:
        key = (kind, re.sub(r"[\s-]", "", value))
        token = self._by_value.get(key)
        if token is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            token = f"[{kind}_{self._counts[kind]}]"
            self._by_value[key] = token
            self.mapping[token] = value
        return token

    def _sub(
        self, pattern: re.Pattern[str], kind: str, text: str, accept: Callable[[str, str], bool] | None = None
    ) -> str:
        def repl(m: re.Match[str]) -> str:
            # Patterns with a capture group redact only the value (keeping "CVV" or "验证码" readable).
            group = next((i for i in range(1, (m.re.groups or 0) + 1) if m.group(i)), 0)
            value = m.group(group)
            if PLACEHOLDER.fullmatch(value) or (accept is not None and not accept(value, text)):
                return m.group(0)
            start, end = m.span(group)
            token = self._token(kind, value)
            return m.group(0)[: start - m.start()] + token + m.group(0)[end - m.start() :]

        return pattern.sub(repl, text)

    def redact(self, text: str) -> str:
        text = self._sub(_EMAIL, "EMAIL", text)
        text = self._sub(_ID18, "ID", text)
        text = self._sub(_ID15, "ID", text)
        text = self._sub(_CARDLIKE, "CARD", text, _card_accept)
        text = self._sub(_EXPIRY, "EXPIRY", text)
        text = self._sub(_CVV, "CVV", text)
        text = self._sub(_OTP, "OTP", text)
        text = self._sub(_PASSWORD, "PASSWORD", text, _password_accept)
        text = self._sub(_PASSWORD_BARE, "PASSWORD", text)
        text = self._sub(_PHONE, "PHONE", text)
        text = self._sub(_CN_ADDRESS, "ADDRESS", text)
        text = self._sub(_CN_BUILDING, "ADDRESS", text)
        text = self._sub(_EN_ADDRESS, "ADDRESS", text)
        return text


def _card_accept(value: str, text: str) -> bool:
    digits = re.sub(r"\D", "", value)
    if luhn_ok(digits):
        return True
    # Made-up or mistyped card numbers are still card numbers when the customer says so.
    return bool(_CARD_KEYWORD.search(text)) and 15 <= len(digits) <= 19


def _password_accept(value: str, _text: str) -> bool:
    return bool(re.search(r"[A-Za-z0-9]", value)) and not PLACEHOLDER.search(value)


def redact(text: str) -> Redaction:
    r = Redactor()
    out = r.redact(text)
    return Redaction(out, dict(r.mapping))


def find_pii(text: str) -> list[tuple[str, str]]:
    """PII still present in `text` as (kind, value): what an output check must never let through."""
    r = Redactor()
    r.redact(text)
    return [(k.strip("[]").rsplit("_", 1)[0], v) for k, v in r.mapping.items()]
