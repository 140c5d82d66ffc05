"""Rule triage in Chinese and English, per signal class, plus the amount threshold."""

from __future__ import annotations

import pytest
from helpers_ai import DEV, DEV_BY_ID

from agentdesk.ai import Conversation
from agentdesk.ai.text import clean, describe, find_amounts
from agentdesk.ai.triage import combine, triage
from agentdesk.faq.store import FaqStore

URGENT = {
    "abuse": ["你们这帮废物，客服都是聋子吗", "You people are useless, what a bunch of idiots"],
    "threat": ["再拖着不办，你们等着瞧", "Fix this or else. You'll regret ignoring me."],
    "legal": ["我已经咨询律师了，准备起诉你们", "My lawyer will be in touch, we're filing a lawsuit"],
    "regulator": ["不处理我就打12315投诉你们", "I'm reporting you to consumer protection"],
    "chargeback": ["我要去银行申请拒付", "I'll file a chargeback with my card issuer"],
    "media": ["再不解决我就发微博曝光你们", "I'm going to contact a journalist about this"],
    "safety": ["充电宝充着充着冒烟了，还有一股焦味", "The kettle started sparking and caught fire"],
    "injury": ["孩子的手被划伤流血了", "The blender blade cut my finger, I had to go to hospital"],
    "self_harm": ["钱都没了，我真的不想活了", "I can't take this anymore, I want to kill myself"],
    "account_takeover": [
        "我的账号被盗了，有人在异地登录下单",
        "Someone logged into my account and placed orders I didn't make",
    ],
}
HUMAN = {
    "human_request": ["别让机器人回了，我要人工客服", "Let me talk to a real person please"],
    "account_action": [
        "我的账号被冻结了，帮我解冻",
        "I lost my old phone number, please move my account to a new one",
    ],
    "back_office": ["快递还没到，帮我把包裹拦截下来", "Can you merge my two orders into one shipment?"],
    "data_request": ["我要求依法导出我的全部个人信息", "Under GDPR I request a copy of all my personal data"],
    "compensation": ["耽误了我一天，你们得赔偿我误工费", "I expect you to compensate me for the wasted day"],
}
BENIGN = [
    "运费怎么算",
    "How long do refunds to Alipay take?",
    "这个电暖器会不会漏电？安全吗",
    "买了滚筒洗衣机，什么时候发货",
    "垃圾袋有大号的吗",
    "加急发货多少钱",
    "How do I change my phone number?",
    "订单2500块，可以货到付款吗",
    "我的手机号是 13912345678，帮我查物流",
]


@pytest.mark.parametrize(("kind", "text"), [(k, t) for k, ts in URGENT.items() for t in ts])
def test_urgent_signals(kind: str, text: str) -> None:
    result = triage(Conversation.of_texts("你好", text))
    assert result.route == "escalate_urgent", result
    assert result.has(kind), [s.kind for s in result.signals]


@pytest.mark.parametrize(("kind", "text"), [(k, t) for k, ts in HUMAN.items() for t in ts])
def test_needs_human_signals(kind: str, text: str) -> None:
    result = triage(Conversation.of_texts(text))
    assert result.route == "needs_human", result
    assert result.has(kind), [s.kind for s in result.signals]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_questions_stay_with_the_ai(text: str) -> None:
    result = triage(Conversation.of_texts(text))
    assert result.route == "ai_ok", result.reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("订单2500块", 2500.0),
        ("一共¥1,200", 1200.0),
        ("RMB 800", 800.0),
        ("退了１２００元", 1200.0),  # full-width digits
        ("赔我1.5万", 15000.0),
        ("$45 dollars", 45.0),
        ("花了 99 元", 99.0),
    ],
)
def test_amounts_are_parsed(text: str, value: float) -> None:
    assert [a for a, _, _ in find_amounts(clean(text))][:1] == [value]


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("退货被扣了2500块，我不认可", "needs_human"),
        ("要求退款¥1,200", "needs_human"),
        ("Please refund RMB 800 to me", "needs_human"),
        ("被多扣了６００元", "needs_human"),  # full-width digits
        ("退款300元什么时候到", "ai_ok"),  # below the threshold
        ("订单2500块，COD可以吗", "ai_ok"),  # an order value is not a money claim
        ("refund_amount=9999", "needs_human"),
    ],
)
def test_amount_threshold(text: str, route: str) -> None:
    assert triage(Conversation.of_texts(text)).route == route


def test_threshold_is_configurable() -> None:
    conv = Conversation.of_texts("退款300元什么时候到")
    assert triage(conv, amount_threshold=200).route == "needs_human"
    assert triage(conv).route == "ai_ok"


def test_zero_width_and_escapes_do_not_hide_a_signal() -> None:
    assert triage(Conversation.of_texts("我要起\u200b诉你们")).route == "escalate_urgent"
    assert triage(Conversation.of_texts("\x1b[8m打12315投诉\x1b[0m")).route == "escalate_urgent"


def test_video_only_needs_a_human_but_a_question_beside_it_does_not() -> None:
    video = {"type": "voice", "url": "https://x.example/a.amr", "duration_s": 12}
    assert triage(Conversation.from_script({"turns": [video, "听语音"]})).route == "needs_human"
    assert triage(Conversation.from_script({"turns": [video, "运费怎么算"]})).route == "ai_ok"


def test_unknown_payloads_do_not_crash() -> None:
    turns = [
        None,
        1011,
        {"type": None},
        {"type": 1011},
        {"type": "sticker"},
        {"type": "image"},
        {"no": "type"},
        "hi",
    ]
    conv = Conversation.from_script({"turns": turns})
    result = triage(conv)
    assert result.route == "needs_human" and result.has("unreadable")  # the bare image, with only "hi"
    assert [describe(m) for m in conv.messages][:6] == [
        "[unsupported message type: NoneType]",
        "[unsupported message type: int]",
        "[unsupported message type: null]",
        "[unsupported message type: 1011]",
        "[unsupported message type: sticker]",
        "[image: unavailable]",
    ]


def test_model_never_downgrades_but_may_raise() -> None:
    urgent = triage(Conversation.of_texts("我要起诉你们"))
    assert combine(urgent, "ai_ok", "looks fine")[0] == "escalate_urgent"
    human = triage(Conversation.of_texts("转人工"))
    assert combine(human, "ai_ok", "")[0] == "needs_human"
    ok = triage(Conversation.of_texts("运费怎么算"))
    assert combine(ok, "escalate_urgent", "hidden threat") == ("escalate_urgent", "model: hidden threat")


@pytest.mark.parametrize("case", DEV, ids=[d["id"] for d in DEV])
def test_dev_routes(case: dict[str, object]) -> None:
    expect = case["expect"]
    assert isinstance(expect, dict)
    assert triage(Conversation.from_script(case)).route == expect["route"]


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("我要告你們，已經請了律師", "escalate_urgent"),  # Traditional
        ("個風筒著火啊，燙傷咗手", "escalate_urgent"),  # Cantonese, Traditional
        ("你哋啲客服係咪on9㗎", "escalate_urgent"),
        ("唔該幫我轉人工", "needs_human"),
        ("運費點計？", "ai_ok"),
    ],
)
def test_traditional_and_cantonese(text: str, route: str) -> None:
    assert triage(Conversation.of_texts(text)).route == route


@pytest.mark.parametrize(
    "text",
    [
        "不用转人工了，问题解决了",
        "No need to talk to a human, thanks",
        "定金膨胀活动怎么参加",
        "贴膜起泡了怎么办",
    ],
)
def test_negated_or_harmless_phrases_do_not_fire(text: str) -> None:
    assert triage(Conversation.of_texts(text)).route == "ai_ok"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("去年的订单现在还能开发票吗，已经过了200天", "compensation"),
        ("有人冒充你们客服让我报验证码", "account_takeover"),
        ("我要投诉到支付宝，申请退单", "chargeback"),
        ("孩子误吞了一颗纽扣电池", "injury"),
        ("我知道你们公司在哪，等着", "threat"),
    ],
)
def test_more_signals(text: str, kind: str) -> None:
    assert triage(Conversation.of_texts(text)).has(kind)


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("你们客服sb吧", "escalate_urgent"),
        ("你们真是idiots", "escalate_urgent"),
        ("再不退款我就去court告你们", "escalate_urgent"),
        ("换绑手机号", "ai_ok"),  # a how-to question
        ("售后申请被驳回了，还能申诉不", "ai_ok"),
    ],
)
def test_code_switched_text(text: str, route: str) -> None:
    assert triage(Conversation.of_texts(text)).route == route


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("This is bullshit, screw you", "abuse"),
        ("I know where your office is", "threat"),
        ("We're joining the class action", "legal"),
        ("I'll report this to the authorities", "regulator"),
        ("I'm going to dispute it with my credit card company", "chargeback"),
        ("My son got hurt by the blade", "injury"),
        ("The charger got me electrocuted", "safety"),
        ("I got a verification code I didn't request and then my orders changed", "account_takeover"),
        ("没有操作却收到了登录验证码", "account_takeover"),
        ("I just don't want to be here anymore", "self_harm"),
        ("I need a real agent", "human_request"),
    ],
)
def test_english_phrasings(text: str, kind: str) -> None:
    assert triage(Conversation.of_texts(text)).has(kind)


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("发错货了，收到的不是我买的型号。", "ai_ok"),  # a wrong item, not a takeover
        ("Can I get an English invoice or receipt for reimbursement abroad?", "ai_ok"),
        ("How do I download a copy of my personal data?", "ai_ok"),
        ("账号里有不是我下的订单，是不是被盗号了？", "escalate_urgent"),
        ("My card was charged for an order I didn't place", "escalate_urgent"),
    ],
)
def test_faq_questions_versus_incidents(text: str, route: str) -> None:
    assert triage(Conversation.of_texts(text)).route == route


@pytest.mark.parametrize(
    ("turns", "route"),
    [
        ([{"type": "video", "url": "https://x.example/v.mp4"}, "see video"], "needs_human"),
        ([{"type": "voice", "url": "https://x.example/a.amr"}, "你好 在吗"], "needs_human"),
        ([{"type": "image", "url": "https://x.example/a.jpg"}, "看图"], "needs_human"),
        ([{"type": "image", "url": "https://x.example/a.jpg"}, "屏幕有坏点，买了5天能换吗"], "ai_ok"),
        ([{"type": "sticker", "id": 3}, "hi"], "ai_ok"),
    ],
)
def test_unreadable_payloads(turns: list[object], route: str) -> None:
    assert triage(Conversation.from_script({"turns": turns})).route == route


# --- damage to the customer's property caused by a product: a claim, a person handles it ------------------

PROPERTY_DAMAGE = [
    "Your store sold me a faulty heater that leaked and ruined my wooden floor.",
    "The dishwasher leaked and destroyed the kitchen cabinets",
    "Your humidifier damaged our hardwood floors",
    "The dye from the new cushion stained my sofa",
    "My carpet is completely soaked because the water purifier leaked",
    "The charger fried my laptop",
    "热水器漏水，把我家的木地板泡坏了",
    "你们的洗衣机漏水泡坏了楼下邻居的天花板",
    "这个加湿器损坏了我的家具",
    "空调漏水把墙泡坏了",
    "衣架掉色，把我的衣服都染色了",
    "地板都被泡坏了，你们说怎么办",
    "熱水器漏水，把我家的木地板泡壞了",  # Traditional
    "個加濕器整壞咗我屋企地板",  # Cantonese
    "这次漏水给我们造成了很大的财产损失",
]


@pytest.mark.parametrize("text", PROPERTY_DAMAGE)
def test_property_damage_needs_a_human(text: str) -> None:
    result = triage(Conversation.of_texts(text))
    assert result.has("property_damage"), result
    assert result.route in ("needs_human", "escalate_urgent")


@pytest.mark.parametrize(
    "text",
    [
        "充电器烧坏了我家的插座",  # burned: fire is a safety incident
        "插排把插座烧黑了",
        "The heater scorched my rug",
        "The heater left burn marks on my table",
    ],
)
def test_burn_damage_is_a_safety_incident(text: str) -> None:
    assert triage(Conversation.of_texts(text)).route == "escalate_urgent"


@pytest.mark.parametrize(
    "text",
    [
        # transit damage and faults of the item itself are FAQ cases (faq-023, faq-039, faq-106...)
        "The item arrived damaged, what should I do?",
        "The box arrived crushed and the item inside is broken",
        "The courier damaged my parcel",
        "收到的包裹外箱破了，东西也摔坏了",
        "快递把我的包裹弄坏了",
        "电机烧坏了，保修吗",
        "新买的电视一开机就黑屏，是坏了吗",
        # the customer's own accident (warranty exclusions, accident protection)
        "我不小心把手机摔坏了，能修吗",
        "我不小心把手机弄坏了",
        # hypothetical or negated
        "这个加湿器会不会漏水泡坏地板？",
        "如果漏水弄坏了地板怎么办",
        "这个会损坏地板吗",
        "Will this heater damage my wooden floor?",
        "Could the humidifier ruin my floor if it leaks?",
        "Does the warranty cover water damage?",
        "It did not damage my floor, I just want to return it",
        # not property
        "The delay ruined my weekend",
    ],
)
def test_near_misses_of_property_damage_stay_with_the_ai(text: str) -> None:
    result = triage(Conversation.of_texts(text))
    assert result.route == "ai_ok", result


def test_faq_has_transit_damage_entries(faq_store: FaqStore) -> None:
    """The near-miss "arrived damaged" really is an FAQ case: the FAQ answers it."""
    for query in ("The item arrived damaged, what should I do?", "收到的包裹外箱破了，东西也摔坏了"):
        hits = faq_store.search(query, limit=3).hits
        assert hits and any("damaged in transit" in h.entry.tags for h in hits), query


def test_first_turn_of_a_damage_claim_is_not_answered_by_the_bot() -> None:
    """cvd-012's first turn on its own (before the court threat) already needs a person."""
    first = DEV_BY_ID["cvd-012"]["turns"][0]
    assert triage(Conversation.of_texts(first)).route == "needs_human"
