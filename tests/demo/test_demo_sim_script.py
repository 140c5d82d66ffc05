"""The simulated customers' script reader and payloads: odd input never raises."""

from __future__ import annotations

import json

from agentdesk.sim.script import (
    MAX_PAYLOAD_BYTES,
    VISITOR_SUFFIX,
    encode_payload,
    parse_scripts,
    text_of,
    turn_payload,
    visitor_uids,
    with_name,
)


def test_turn_payloads_follow_the_wukongim_content_types() -> None:
    assert turn_payload("hi") == {"type": 1, "content": "hi"}
    image = {
        "type": "image",
        "url": "https://x.example/a.jpg",
        "width": 3,
        "height": 4,
        "caption": "c",
        "x": 1,
    }
    assert turn_payload(image) == {
        "type": 2,
        "url": "https://x.example/a.jpg",
        "width": 3,
        "height": 4,
        "caption": "c",
    }
    assert turn_payload({"type": "image", "width": 3}) == {"type": 2, "width": 3}  # stays malformed
    assert turn_payload({"type": "voice", "duration": 2}) == {"type": "voice", "duration": 2}
    assert turn_payload({"type": 1011}) == {"type": 1011}
    assert turn_payload({"type": None}) == {"type": None}
    assert turn_payload(None) == {"type": None, "value": None}
    assert turn_payload([1, 2]) == {"type": None, "value": [1, 2]}


def test_encode_payload_copes_with_surrogates_and_size() -> None:
    data, problem = encode_payload(turn_payload("a\ud800b"))
    assert problem is None and json.loads(data) == {"type": 1, "content": "a\ud800b"}
    data, problem = encode_payload(turn_payload("x" * (MAX_PAYLOAD_BYTES + 10)))
    assert problem is not None and len(data) <= MAX_PAYLOAD_BYTES
    assert text_of(b'{"type":1,"content":"ok"}') == "ok"
    assert text_of(b'{"type":true,"content":"no"}') is None
    assert text_of(b"\xff") is None


def test_parse_scripts_keeps_every_record() -> None:
    text = "\n".join(
        [
            json.dumps({"id": "a", "customer": {"uid": "c-1"}, "turns": ["x"], "expect": {"route": "ai_ok"}}),
            "not json",
            json.dumps({"id": "b", "turns": "x"}),
            json.dumps([1]),
            json.dumps({"id": "c", "customer": "x", "turns": ["line\u2028inside"]}),
            "",
        ]
    )
    scripts, errors = parse_scripts(text)
    assert [s.id for s in scripts] == ["a", "b", "line-4", "c"]
    assert scripts[0].expect_route == "ai_ok" and not scripts[0].problems
    assert scripts[1].problems and scripts[2].problems
    assert scripts[3].turns == ["line\u2028inside"]
    assert len(errors) == 1 and "line 2" in errors[0]


def test_visitor_uids_are_unique_and_safe() -> None:
    text = "\n".join(
        json.dumps({"id": i, "customer": {"uid": u}, "turns": ["x"]})
        for i, u in [("1", "c-1"), ("2", "c-1"), ("3", "bad uid@x"), ("4", ""), ("5", "c-5" + VISITOR_SUFFIX)]
    )
    scripts, _ = parse_scripts(text)
    uids = visitor_uids(scripts)
    assert uids[0] == "c-1" + VISITOR_SUFFIX
    assert len(set(uids)) == len(uids)
    assert all(u.endswith(VISITOR_SUFFIX) and u.isascii() and len(u) <= 128 for u in uids)
    assert all("@" not in u and " " not in u for u in uids)
    assert visitor_uids(scripts, salt="r1")[0] != uids[0]


def test_the_customer_name_travels_as_from_name() -> None:
    hostile = "[red]Eve[/red]\x1b[31m\u202e"
    assert with_name(turn_payload("hi"), hostile) == {"type": 1, "content": "hi", "from_name": hostile}
    assert with_name(turn_payload("hi"), "") == {"type": 1, "content": "hi"}  # no name, no key
    own = {"type": "voice", "from_name": "the turn's own"}
    assert with_name(turn_payload(own), "Eve") == own  # a turn's own from_name is sent as it is
    data, problem = encode_payload(with_name(turn_payload(None), hostile))
    assert problem is None and json.loads(data) == {"type": None, "value": None, "from_name": hostile}
