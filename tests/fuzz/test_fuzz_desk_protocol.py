"""The desk event parser on arbitrary input: `parse` / `parse_payload` never raise, and every event they
accept round-trips through `encode` / `encode_bytes` unchanged."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fuzzkit import FUZZ, json_values
from hypothesis import event, given
from hypothesis import strategies as st

from agentdesk.desk import protocol as p

KINDS = {**p.REQUEST_KINDS, **p.FACT_KINDS}

hex_ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
uids = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True) | st.from_regex(
    r"v[0-9a-f]{8}___vstr", fullmatch=True
)
#: plausible values per field name, mixed with arbitrary JSON so the checks are exercised too
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": hex_ids,
    "re": st.none() | hex_ids,
    "channel": uids,
    "to": uids,
    "by": st.none() | uids,
    "assignee": uids,
    "customer_uid": uids,
    "customer_name": st.text(max_size=220),
    "at": st.floats(min_value=0, max_value=4e9) | st.integers(min_value=0, max_value=2**31),
    "waited": st.floats(min_value=0, max_value=1e6),
    "urgency": st.sampled_from([*p.URGENCIES, "URGENT", ""]),
    "mode": st.sampled_from([*p.MODES, "robot"]),
    "reason": st.text(max_size=220),
    "note": st.text(max_size=300),
    "text": st.text(max_size=300),
    "why": st.text(max_size=320),
    "request_kind": st.sampled_from([*p.REQUEST_KINDS, "x"]),
    "add": st.lists(st.from_regex(r"\w[\w.:/+-]{0,10}", fullmatch=True) | st.text(max_size=50), max_size=22),
    "remove": st.lists(st.from_regex(r"\w[\w.:/+-]{0,10}", fullmatch=True), max_size=5),
}


@st.composite
def desk_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A dict shaped like a desk event: mostly valid fields, sometimes wrong, missing or extra ones."""
    kind = draw(st.sampled_from([*KINDS, "unknown_kind"]))
    obj: dict[str, Any] = {
        "type": draw(st.sampled_from([p.CONTENT_TYPE] * 8 + [1, "30001", True])),
        "v": draw(st.sampled_from([p.VERSION] * 8 + [0, 2, True, "1", 1.0])),
        "kind": kind,
    }
    cls: Any = KINDS.get(kind)
    for f in dataclasses.fields(cls) if cls else []:
        choice = draw(st.integers(0, 19))
        if choice == 0:
            continue  # missing
        strategy = FIELD_VALUES.get(f.name, json_values)
        obj[f.name] = draw(json_values if choice == 1 else strategy)
    if draw(st.booleans()):
        obj.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)))
    return obj


def _roundtrip(ev: p.Event | None) -> None:
    event("outcome: rejected (None)" if ev is None else "outcome: accepted and round-tripped")
    if ev is None:
        return
    assert p.parse(p.encode(ev)) == ev
    raw = p.encode_bytes(ev)
    assert p.parse_payload(raw) == ev
    assert p.parse_payload(raw.decode()) == ev
    assert p.parse(json.loads(raw)) == ev


@FUZZ
@given(json_values)
def test_parse_never_raises_on_any_json(obj: object) -> None:
    _roundtrip(p.parse(obj))


@FUZZ
@given(desk_objects())
def test_parse_accepts_or_rejects_event_shaped_objects_and_round_trips(obj: dict[str, Any]) -> None:
    ev = p.parse(obj)
    assert ev is None or ev.kind == obj["kind"]
    _roundtrip(ev)


@FUZZ
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_parse_payload_never_raises_on_bytes(raw: bytes) -> None:
    _roundtrip(p.parse_payload(raw))


@FUZZ
@given(desk_objects(), st.integers(0, 400), st.binary(min_size=1, max_size=4))
def test_parse_payload_survives_mutated_valid_json(obj: dict[str, Any], at: int, junk: bytes) -> None:
    raw = json.dumps(obj, ensure_ascii=False, default=str).encode()
    cut = at % (len(raw) + 1)
    for mutated in (raw[:cut], raw[:cut] + junk + raw[cut:], raw[:cut] + raw[cut + 1 :]):
        _roundtrip(p.parse_payload(mutated))
