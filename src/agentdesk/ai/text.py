"""Text helpers shared by triage, guards and the drafters: normalisation, language, amounts, rendering."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from agentdesk.ai.types import Conversation, Message
from agentdesk.faq.model import Lang

#: ANSI CSI / OSC / other ESC sequences (OSC ends with BEL or ESC \).
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL | ST
    r"|\x1b\[[0-9;?<=>]*[ -/]*[@-~]"  # CSI
    r"|\x9b[0-9;?]*[ -/]*[@-~]"  # C1 CSI
    r"|\x1b[@-Z\\-_]"  # two-byte ESC
)
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\u00ad]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Han characters (Simplified, Traditional, Cantonese; compatibility and extension-B..F planes included)
_HAN_CLASS = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK = re.compile(f"[{_HAN_CLASS}]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
#: an unbroken run of 40+ characters with no Han character in it: pasted noise (URLs, base64, error-code
#: lines, a 5,000-character junk line). Chinese is written without spaces, so a run that *contains* Han
#: characters is text, not noise; only its non-Han stretches of this length are noise.
_NOISE_RUN = re.compile(f"[^\\s{_HAN_CLASS}]{{40,}}")
#: the same, for truncation: non-Han runs longer than 160 characters keep their first 120
_LONG_NOISE_RUN = re.compile(f"([^\\s{_HAN_CLASS}]{{120}})[^\\s{_HAN_CLASS}]{{40,}}")
#: text sent to the model or scanned by rules is capped per message (a pasted 5,000-character line)
MAX_MESSAGE_CHARS = 600


def clean(text: str) -> str:
    """Canonical text for rules and prompts: NFKC (full-width digits and letters become ASCII), escape
    sequences, control and invisible characters removed, whitespace runs collapsed. Never for display."""
    text = _ESCAPES.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = text.replace("\u2028", " ").replace("\u2029", " ")
    text = _CONTROLS.sub(" ", text)
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Cap one message; long unbroken non-Chinese runs (pasted logs) are shortened with a marker.
    (Chinese sentences have no spaces: they are only subject to the overall `limit`.)"""
    text = _LONG_NOISE_RUN.sub(lambda m: m.group(1) + "…[truncated]", text)
    if len(text) > limit:
        return text[:limit] + "…[truncated]"
    return text


def customer_text(conversation: Conversation, *, captions: bool = True) -> str:
    """Everything the customer wrote, cleaned, one message per line (captions and payload text included)."""
    lines: list[str] = []
    for m in conversation.customer_messages():
        body = message_text(m, captions=captions)
        if body:
            lines.append(truncate(clean(body)))
    return "\n".join(lines)


def message_text(m: Message, *, captions: bool = True) -> str:
    if m.kind == "text":
        return m.text
    if m.kind == "image":
        return (m.caption or "") if captions else ""
    return m.text


def describe(m: Message, prepare: Callable[[str], str] = str) -> str:
    """A neutral one-line description of a message for the prompt (payloads are placeholders).
    `prepare` (e.g. redaction) runs on the cleaned text before it is truncated."""
    if m.kind == "text":
        return truncate(prepare(clean(m.text)))
    if m.kind == "image":
        caption = truncate(prepare(clean(m.caption))) if m.caption else ""
        base = "[image]" if m.url and m.url.startswith("https://") else "[image: unavailable]"
        return f"{base} caption: {caption}" if caption else base
    extra = truncate(prepare(clean(m.text))) if m.text else ""
    label = clean(m.type_name)[:30] or "null"
    return f"[unsupported message type: {label}]" + (f" {extra}" if extra else "")


def drop_noise(text: str) -> str:
    """`text` without pasted noise: unbroken runs of 40+ characters that hold no Chinese character
    (URLs, base64, error-code lines). Chinese text, which has no spaces, is kept whatever its length."""
    return _NOISE_RUN.sub(" ", text)


def detect_lang(text: str) -> Lang:
    """The customer's language: Chinese when Chinese characters carry the text, else English.
    Pasted noise (`drop_noise`) does not count. Text written only in pinyin (`fapiao zenme kai`) is
    Chinese: the customer reads Chinese but could not type it."""
    text = drop_noise(text)
    cjk = len(_CJK.findall(text))
    words = _LATIN_WORD.findall(text)
    if cjk == 0:
        return "zh" if is_pinyin(words) else "en"
    return "zh" if cjk >= len(words) else "en"


#: English words that are also pinyin syllables or split into them ("he", "change"): one of them in the
#: text means it is English, not pinyin
_EN_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "am",
        "was",
        "be",
        "to",
        "of",
        "in",
        "on",
        "at",
        "it",
        "he",
        "she",
        "we",
        "me",
        "my",
        "his",
        "her",
        "our",
        "can",
        "will",
        "would",
        "do",
        "does",
        "did",
        "not",
        "no",
        "yes",
        "and",
        "or",
        "but",
        "if",
        "so",
        "as",
        "by",
        "for",
        "from",
        "with",
        "this",
        "that",
        "these",
        "those",
        "what",
        "when",
        "where",
        "why",
        "how",
        "who",
        "which",
        "i",
        "you",
        "they",
        "them",
        "then",
        "than",
        "there",
        "here",
        "have",
        "has",
        "had",
        "get",
        "got",
        "please",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "change",
        "order",
        "ship",
        "shipping",
        "refund",
        "return",
        "item",
        "money",
        "pay",
        "time",
        "long",
        "men",
        "women",
        "hang",
        "ping",
    ]
)


def is_pinyin(words: list[str]) -> bool:
    """Latin words that read as toneless pinyin: no common English word, at least three quarters of the
    words (and at least two) split into pinyin syllables, three syllables or more in all."""
    try:  # the FAQ search's syllable table, imported on demand; language detection must never fail
        from agentdesk.faq.text import pinyin_split
    except ImportError:  # pragma: no cover - the FAQ module is being reworked (tests/ai catches this)
        return False
    if len(words) < 2 or any(w.lower() in _EN_FUNCTION_WORDS for w in words):
        return False
    splits = [pinyin_split(w.lower()) for w in words]
    found = [s for s in splits if s is not None]
    return len(found) >= 2 and 4 * len(found) >= 3 * len(words) and sum(map(len, found)) >= 3


def conversation_lang(conversation: Conversation) -> Lang:
    return detect_lang(customer_text(conversation))


# --- Traditional Chinese -----------------------------------------------------------------------------------

#: Traditional -> Simplified for the characters the rules and checks use (rules are written in Simplified).
_T2S = str.maketrans(
    "毀濕傢櫃鄰們訴師險傷燙電騙賠償號帳戶盜轉體記聞錢還對這個嗎麼為說話請問題經鬥殺報協會監幣塊圓萬發貨運費單訂聯絡繫機碼證驗圖見開關閉點燒煙災觸裡裏邊過時間後從來給讓著沒醫嚴廢滾頂賬凍結攔郵鬧髒壞買賣換貼裝網頁態愛務響兒產處壓車鐵線紅綠藍樣飯廳館語認識課東長門閱讀寫書畫園場實寶貴財貝員銀錯鐘鍋鏡陽陰際隊雙雞難雲靈順頭顧風飛餓馬騎驚鳥黃齊龍條復製應憂懷戰戲擊擔據損搶護擁擾攝敗數斷無煩熱爺牆獎獨環現瑣畢異當療盡盤確禮種稱穩竊筆簡籤紀約級紙終組絕統絲綁緊練總繳續罰罷聽膽腦臉舉舊藥蘭蟲衛補襪規視覽親觀計討訓設許詐評試詳誤誠諮謝變貓貿賀資質購贈趕跡躍軟輕輸辦遠適遲遺鄉釋針鈕銷鋪錶鍵鎖閃閑閥隨雜離靜預領頻額顯飽餘髮鬆麗齒",
    "毁湿家柜邻们诉师险伤烫电骗赔偿号帐户盗转体记闻钱还对这个吗么为说话请问题经斗杀报协会监币块圆万发货运费单订联络系机码证验图见开关闭点烧烟灾触里里边过时间后从来给让着没医严废滚顶账冻结拦邮闹脏坏买卖换贴装网页态爱务响儿产处压车铁线红绿蓝样饭厅馆语认识课东长门阅读写书画园场实宝贵财贝员银错钟锅镜阳阴际队双鸡难云灵顺头顾风飞饿马骑惊鸟黄齐龙条复制应忧怀战戏击担据损抢护拥扰摄败数断无烦热爷墙奖独环现琐毕异当疗尽盘确礼种称稳窃笔简签纪约级纸终组绝统丝绑紧练总缴续罚罢听胆脑脸举旧药兰虫卫补袜规视览亲观计讨训设许诈评试详误诚谘谢变猫贸贺资质购赠赶迹跃软轻输办远适迟遗乡释针钮销铺表键锁闪闲阀随杂离静预领频额显饱余发松丽齿",
)


_SCRIPT_BOUNDARY = re.compile(r"(?<=[\u3400-\u9fff])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(?=[\u3400-\u9fff])")


def for_rules(text: str) -> str:
    """Cleaned text for rule matching: Simplified characters, and a space between Chinese and Latin/digits
    so that English word boundaries work inside code-switched text ("你们真是idiots")."""
    return _SCRIPT_BOUNDARY.sub(" ", simplify(clean(text)))


def simplify(text: str) -> str:
    """Map common Traditional characters to Simplified (for rule matching only, never for display)."""
    return text.translate(_T2S)


# --- amounts ---------------------------------------------------------------------------------------------

_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
_CN_UNITS = {"千": 1_000.0, "k": 1_000.0, "K": 1_000.0, "万": 10_000.0, "w": 10_000.0, "W": 10_000.0}
_AMOUNT = re.compile(
    r"(?:[¥￥$]|rmb|cny|usd|yuan)\s*" + _NUM + r"\s*([千万kKwW](?![a-zA-Z]))?"
    r"|" + _NUM + r"\s*([千万kKwW])?\s*(?:块钱|块|元|圆|rmb|cny|yuan|bucks|dollars)"
    r"|" + _NUM + r"\s*([千万])",
    re.IGNORECASE,
)


def find_amounts(text: str) -> list[tuple[float, int, int]]:
    """Money amounts in `text` (after `clean`): (value in yuan, start, end). Handles ¥1,200, RMB 800,
    2500块, 1.2万, and full-width digits (once NFKC-normalised)."""
    out: list[tuple[float, int, int]] = []
    for m in _AMOUNT.finditer(text):
        num = m.group(1) or m.group(3) or m.group(5)
        unit = m.group(2) or m.group(4) or m.group(6)
        value = float(num.replace(",", ""))
        if unit:
            value *= _CN_UNITS[unit]
        out.append((value, m.start(), m.end()))
    return out
