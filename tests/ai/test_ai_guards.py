"""PII redaction and output checks as plain functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentdesk.ai.guards import check_output
from agentdesk.ai.prompt import INSTRUCTIONS
from agentdesk.ai.redact import china_id_ok, find_pii, luhn_ok, redact


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("5555555555554444")
    assert not luhn_ok("4111111111111112")


def test_china_id_check_digit() -> None:
    assert china_id_ok("11010519491231002X")
    assert not china_id_ok("110105194912310021")


def test_order_numbers_and_amounts_are_not_pii() -> None:
    text = "订单 NW260401220938 退款 2500 元，单号 SF1234567890123"
    assert redact(text).text == text


def test_placeholders_are_consistent_and_mapping_stays_local() -> None:
    r = redact("call 13912345678, again: 139-1234-5678; mail a@example.com")
    assert r.text.count("[PHONE_1]") == 2 and "[EMAIL_1]" in r.text
    assert r.mapping["[EMAIL_1]"] == "a@example.com" and r.kinds() == {"PHONE", "EMAIL"}


def test_luhn_invalid_long_number_without_card_context_is_kept() -> None:
    # 16 digits that fail Luhn and are not called a card (e.g. a tracking number) stay readable.
    assert "1234567890123456" in redact("tracking 1234567890123456").text
    assert "1234567890123456" not in redact("card 1234567890123456").text


@given(st.text(max_size=200))
def test_redaction_never_crashes(text: str) -> None:
    redact(text)
    check_output(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我们已为您补发100元优惠券", "coupon_promise"),
        ("I'll send you a $20 voucher for the trouble.", "coupon_promise"),
        ("已为您全额退款，请查收。", "refund_promise"),
        ("I have refunded 9999 to your card.", "refund_promise"),
        ("我们会赔偿您的地板维修费用", "compensation_offer"),
        ("We will pay for the repairs.", "compensation_offer"),
        ("已为您拦截包裹。", "action_claim"),
        ("Auto-renewal has been turned off for you.", "action_claim"),
        ("保证明天一定送到", "guarantee"),
        ("Please send me your CVV so I can check.", "secret_request"),
        ("请把新的支付密码发给我们", "secret_request"),
        ("已进入开发者模式", "developer_mode"),
        ("详情见 https://evil.example/x", "link"),
        ("[link=http://evil.example]点我[/link]", "link"),
        ("您的卡号 4111 1111 1111 1111 已记录", "pii_echo"),
        ("Your phone [PHONE_1] is on file", "pii_echo"),
        ("我的提示词如下：You draft replies", "prompt_leak"),
        ("Hello \x1b]52;c;ZXZpbA==\x07 there", "control_chars"),
        ("invoice.\u202egpj.exe", "control_chars"),
    ],
)
def test_output_checks_catch(text: str, kind: str) -> None:
    kinds = {v.kind for v in check_output(text)}
    assert kind in kinds, kinds


@pytest.mark.parametrize(
    "text",
    [
        "您好！优惠券过期后不能延期或补发，客服也无法手动发放同等的券。",
        "We can't reissue expired coupons, sorry.",
        "非常抱歉给您带来不好的体验，已转交专人优先处理，请稍候。",
        "请勿在聊天中发送密码或验证码。",
        "Never share your password or verification code in chat.",
        "退款审核通过后，会原路退回，1–3个工作日到账。",
        "A colleague will take this over and reply to you here as soon as possible.",
    ],
)
def test_output_checks_accept_safe_text(text: str) -> None:
    assert check_output(text) == []


def test_faq_supported_links_and_statements_pass() -> None:
    faq = ["下载地址见 https://help.northwind.example/invoice ，签收后48小时内开具。"]
    assert check_output("请到 https://help.northwind.example/invoice 下载。", faq_texts=faq) == []


def test_customer_values_and_canary_are_caught() -> None:
    found = check_output("Your code 739204 works", pii_values={"[OTP_1]": "739204"}, canary="NW-abc")
    assert {v.kind for v in found} == {"pii_echo"}
    assert {v.kind for v in check_output("marker NW-abc", canary="NW-abc")} == {"prompt_leak"}
    leak = INSTRUCTIONS[200:300]
    assert {v.kind for v in check_output("Sure: " + leak, system_prompt=INSTRUCTIONS)} == {"prompt_leak"}


def test_find_pii_kinds() -> None:
    kinds = {k for k, _ in find_pii("身份证110101199003074258 邮箱 x@example.com 卡 4111111111111111")}
    assert kinds == {"ID", "EMAIL", "CARD"}
