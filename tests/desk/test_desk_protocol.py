"""The desk-log protocol: every kind round-trips; hostile input is None, never an exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deskkit import rid
from hypothesis import given, settings
from hypothesis import strategies as st

from agentdesk.desk import protocol as p

V = "v1___vstr"
AT = 1_800_000_000.5
HOSTILE = "\x1b]52;c;aGk=\x07[bold red]A\u202edmin[/] \r\x08\x00 <script>"

EVENTS: list[p.Event] = [
    p.Claim(id=rid(1), channel=V),
    p.Release(id=rid(2), channel=V),
    p.Transfer(id=rid(3), channel=V, to="bob"),
    p.Escalate(id=rid(4), channel=V, urgency="urgent", reason="legal", note="threatens to sue"),
    p.TakeOver(id=rid(5), channel=V),
    p.HandBack(id=rid(6), channel=V),
    p.Resolve(id=rid(7), channel=V),
    p.Reopen(id=rid(8), channel=V),
    p.Note(id=rid(9), channel=V, text="VIP, 退款 twice"),
    p.Label(id=rid(10), channel=V, add=("vip", "退款"), remove=("spam",)),
    p.SetMode(id=rid(11), channel=V, mode="assist"),
    p.Opened(id=rid(12), channel=V, at=AT, customer_uid=V, customer_name=HOSTILE),
    p.Queued(id=rid(13), channel=V, at=AT, urgency="high", reason="refund_request"),
    p.Assigned(id=rid(14), channel=V, at=AT, re=rid(1), by="alice", assignee="alice"),
    p.Released(id=rid(15), channel=V, at=AT, re=rid(2), by="alice"),
    p.ModeChanged(id=rid(16), channel=V, at=AT, re=rid(5), by="sam", mode="human"),
    p.Escalated(
        id=rid(17), channel=V, at=AT, re=rid(4), by="alice", urgency="urgent", reason="legal", note="x"
    ),
    p.Responded(id=rid(18), channel=V, at=AT, by="alice", waited=42.5),
    p.Resolved(id=rid(19), channel=V, at=AT, re=rid(7), by="alice"),
    p.Reopened(id=rid(20), channel=V, at=AT),
    p.Noted(id=rid(21), channel=V, at=AT, re=rid(9), by="bob", text="VIP"),
    p.Labeled(id=rid(22), channel=V, at=AT, re=rid(10), by="bob", add=("vip",), remove=()),
    p.Rejected(
        id=rid(23), channel=V, at=AT, re=rid(1), by="bob", request_kind="claim", why="already assigned"
    ),
]


def good(kind: str = "claim", **extra: Any) -> dict[str, Any]:
    return {"type": p.CONTENT_TYPE, "v": 1, "kind": kind, "id": rid(99), "channel": V, **extra}


def test_every_kind_is_covered() -> None:
    assert {e.kind for e in EVENTS} == set(p.REQUEST_KINDS) | set(p.FACT_KINDS)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind)
def test_round_trip(event: p.Event) -> None:
    obj = p.encode(event)
    assert obj["type"] == 30001 and obj["v"] == 1 and obj["kind"] == event.kind
    assert p.parse(obj) == event
    assert p.parse_payload(p.encode_bytes(event)) == event
    assert p.parse_payload(json.dumps(obj)) == event


def test_content_type_is_outside_every_sdk_range() -> None:
    used = [range(0, 14), range(97, 100), range(1000, 2001), range(20000, 30001)]
    assert all(p.CONTENT_TYPE not in r for r in used)


def test_hostile_display_name_is_kept_as_data() -> None:
    event = p.parse_payload(p.encode_bytes(EVENTS[11]))
    assert isinstance(event, p.Opened) and event.customer_name == HOSTILE


def test_unknown_fields_are_ignored_and_lower_versions_read() -> None:
    assert p.parse(good(extra_field={"nested": [1, 2]}, mention={"all": 1})) == p.Claim(id=rid(99), channel=V)


@pytest.mark.parametrize(
    "obj",
    [
        good(kind="dance"),
        good(kind=None),
        good(kind=["claim"]),
        good(kind={"a": 1}),
        good(v=2),
        good(v=0),
        good(v="1"),
        good(v=True),
        {k: v for k, v in good().items() if k != "v"},
        good(type=1),
        good(type="30001"),
        good(id=rid(0xABCDEF).upper()),
        good(id="abc"),
        good(id=7),
        good(channel=""),
        good(channel="has space"),
        good(channel="x" * 129),
        good(channel=["v1"]),
        good("transfer"),  # `to` missing
        good("transfer", to=None),
        good("escalate", urgency="asap"),
        good("escalate", reason="r" * (p.MAX_REASON + 1)),
        good("note", text="n" * (p.MAX_NOTE + 1)),
        good("label", add=["ok", "has space"]),
        good("label", add="vip"),
        good("label", add=["v"] * (p.MAX_LABELS + 1)),
        good("set_mode", mode="auto"),
        good("opened", at=AT, customer_uid=V, customer_name="n" * (p.MAX_NAME + 1)),
        good("opened", at=AT),  # customer_uid missing
        good("queued", at=float("nan")),
        good("queued", at=float("inf")),
        good("queued", at=-1),
        good("queued", at=True),
        good("queued", at="now"),
        good("queued"),  # at missing
        good("assigned", at=AT, assignee="alice", re="not-an-id"),
        good("assigned", at=AT, assignee="alice", by=""),
        good("rejected", at=AT, why="because"),  # a rejection must name its request
        good("responded", at=AT, waited=-3),
        [good()],
        "claim",
        None,
    ],
)
def test_malformed_is_none(obj: object) -> None:
    assert p.parse(obj) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe{}",
        b"[" * 5000 + b"]" * 5000,  # deep nesting within the size limit
        b'{"type":30001,"v":1,"kind":"claim","id":"' + b"a" * 32 + b'","channel":"' + b"x" * 20_000 + b'"}',
        "NaN",
        '{"type":30001,"v":1,"kind":"queued","id":"' + "a" * 32 + '","channel":"c","at":NaN}',
        b'{"type":1,"content":"hello"}',
        b'{"type":30001,"v":1,"kind":"note","id":"' + b"a" * 32 + b'","channel":"c","text":"\\ud800"}',
    ],
)
def test_malformed_payload_is_none(raw: bytes | str) -> None:
    assert p.parse_payload(raw) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_field_values = st.one_of(_json, st.sampled_from([V, "alice", rid(3), AT, "urgent", "ai", ["vip"], ""]))


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([*p.REQUEST_KINDS, *p.FACT_KINDS, "x"]),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "id",
                "channel",
                "at",
                "re",
                "by",
                "to",
                "urgency",
                "reason",
                "note",
                "text",
                "mode",
                "add",
                "remove",
                "assignee",
                "customer_uid",
                "customer_name",
                "why",
                "waited",
                "request_kind",
                "v",
                "type",
            ]
        ),
        _field_values,
        max_size=8,
    ),
)
def test_parse_never_raises_and_accepts_only_valid(kind: str, fields: dict[str, object]) -> None:
    obj: dict[str, object] = {"type": p.CONTENT_TYPE, "v": 1, "kind": kind, "id": rid(5), "channel": V}
    obj.update(fields)
    event = p.parse(obj)
    if event is not None:  # whatever is accepted re-encodes to an equal event
        assert event.kind == kind
        assert p.parse(p.encode(event)) == event


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str))
def test_parse_payload_never_raises(raw: bytes | str) -> None:
    assert p.parse_payload(raw) is None


def test_clip() -> None:
    assert p.clip("abc", 5) == "abc"
    assert p.clip("abcdef", 4) == "abc…"
    assert p.clip("a\ud800b", 10) == "a?b"  # a lone surrogate cannot be encoded: replaced
    assert p.clip("\x1b[31m[b]", 10) == "\x1b[31m[b]"  # the rest is data
