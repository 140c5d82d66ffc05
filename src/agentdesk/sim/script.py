"""Conversation scripts (the shared format, data/README.md §4) and the payloads a visitor's app sends.

Scripts are untrusted input: a record may miss fields, carry odd turns (images without a url, unknown or
null types, numbers, lists), hostile names or very long lines. Nothing here raises on bad input: a record
that cannot be replayed still becomes a `Script` carrying its problems, so it appears in every summary.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

#: WuKongIM's visitor suffix: visitor uids need no token (PROTOCOL.md §g)
VISITOR_SUFFIX: Final = "___vstr"
#: WuKongIM SDK content types (PROTOCOL.md §c.2)
TEXT_TYPE: Final = 1
IMAGE_TYPE: Final = 2
#: the optional display name a visitor's message carries (docs/desk-protocol.md)
NAME_KEY: Final = "from_name"
#: the largest payload a simulated customer sends (WuKongIM packets are ≤ 1 MiB; stay well below)
MAX_PAYLOAD_BYTES: Final = 256 * 1024
#: the longest visitor uid (desk protocol: uids are ≤ 128 printable ASCII characters)
MAX_UID: Final = 128 - len(VISITOR_SUFFIX)
#: the most turns replayed per script, and the most scripts read from one file
MAX_TURNS: Final = 200
MAX_SCRIPTS: Final = 5000

_SAFE_UID = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(slots=True)
class Script:
    """One conversation to replay. `problems` are reasons it cannot be replayed as written."""

    id: str
    customer_uid: str  # as written in the script ("" when missing)
    customer_name: str
    turns: list[object]
    expect_route: str | None = None
    line: int = 0
    problems: list[str] = field(default_factory=list)


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def script_from_record(obj: object, line: int) -> Script:
    """A `Script` from one decoded JSON record (never raises)."""
    if not isinstance(obj, Mapping):
        return Script(
            id=f"line-{line}",
            customer_uid="",
            customer_name="",
            turns=[],
            line=line,
            problems=[f"line {line}: not a JSON object ({type(obj).__name__})"],
        )
    problems: list[str] = []
    raw_id = obj.get("id")
    if isinstance(raw_id, str) and raw_id:
        sid = raw_id
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        sid = str(raw_id)
    else:
        sid = f"line-{line}"
        problems.append(f"line {line}: no id; called it {sid!r}")
    customer = obj.get("customer")
    uid = name = ""
    if isinstance(customer, Mapping):
        uid, name = _text(customer.get("uid")), _text(customer.get("name"))
    turns_raw = obj.get("turns")
    turns: list[object]
    if isinstance(turns_raw, list):
        turns = list(turns_raw[:MAX_TURNS])
        if len(turns_raw) > MAX_TURNS:
            problems.append(f"only the first {MAX_TURNS} of {len(turns_raw)} turns are replayed")
        if not turns:
            problems.append("the script has no turns")
    else:
        turns = []
        problems.append(f"turns is not a list ({type(turns_raw).__name__})")
    expect = obj.get("expect")
    route = expect.get("route") if isinstance(expect, Mapping) else None
    return Script(
        id=sid,
        customer_uid=uid,
        customer_name=name,
        turns=turns,
        expect_route=route if isinstance(route, str) else None,
        line=line,
        problems=problems,
    )


def parse_scripts(text: str) -> tuple[list[Script], list[str]]:
    """Scripts from JSON Lines text, and the file-level problems (lines that are not JSON at all).

    Records are split on ``\\n`` only, as data/README.md says (U+2028 inside a record is data)."""
    scripts: list[Script] = []
    errors: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line:
            continue
        if len(scripts) >= MAX_SCRIPTS:
            errors.append(f"only the first {MAX_SCRIPTS} scripts are replayed")
            break
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            errors.append(f"line {number}: not JSON ({type(exc).__name__}: {str(exc)[:120]})")
            continue
        scripts.append(script_from_record(obj, number))
    return scripts, errors


def load_scripts(path: Path | str) -> tuple[list[Script], list[str]]:
    """`parse_scripts` on a file; OSError if it cannot be read. Invalid UTF-8 is replaced, not fatal."""
    data = Path(path).read_bytes()
    text = data.decode("utf-8", errors="replace")
    scripts, errors = parse_scripts(text.removeprefix("\ufeff"))
    if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
        errors.insert(0, f"{path}: not valid UTF-8; undecodable bytes were replaced")
    return scripts, errors


def visitor_uids(scripts: Iterable[Script], *, salt: str = "") -> list[str]:
    """A unique, protocol-safe visitor uid (``<uid>___vstr``) for each script, in order.

    A script's own uid is kept when it is safe (letters, digits, ``_.-``, not already ending in the
    suffix); otherwise, or when two scripts share it, a stable one is derived from the script id.
    `salt` makes uids differ between runs that share a data directory.
    """
    used: set[str] = set()
    out: list[str] = []
    for index, s in enumerate(scripts):
        base = s.customer_uid
        if salt and base:
            base = f"{base}-{salt}"
        if not (_SAFE_UID.fullmatch(base) and len(base) <= MAX_UID and not base.endswith(VISITOR_SUFFIX)):
            digest = hashlib.sha256(f"{s.id}\x00{s.customer_uid}\x00{salt}".encode("utf-8", "replace"))
            base = "sim-" + digest.hexdigest()[:16]
        uid = base
        n = 1
        while uid in used:
            n += 1
            uid = f"{base[: MAX_UID - 8]}-{index}-{n}"
        used.add(uid)
        out.append(uid + VISITOR_SUFFIX)
    return out


def turn_payload(turn: object) -> dict[str, Any]:
    """What a visitor's app would send for one turn.

    * a string: text, ``{"type": 1, "content": …}``;
    * ``{"type": "image", …}``: content type 2 with ``url``, ``width``, ``height`` and ``caption`` as
      far as the turn has them (a malformed image stays malformed: no url means no url);
    * any other object (``voice``, ``1011``, ``null``…): sent as it is, its type preserved;
    * anything else (a number, a list, null): ``{"type": null, "value": …}``.
    """
    if isinstance(turn, str):
        return {"type": TEXT_TYPE, "content": turn}
    if isinstance(turn, Mapping):
        if turn.get("type") == "image":
            image: dict[str, Any] = {"type": IMAGE_TYPE}
            for key in ("url", "width", "height", "caption"):
                if key in turn:
                    image[key] = turn[key]
            return image
        return {str(k): v for k, v in turn.items()}
    return {"type": None, "value": turn}


def with_name(payload: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The payload carrying the customer's display name as a top-level ``"from_name"`` (the key the
    WuKongIM SDKs use for a sender's name; docs/desk-protocol.md, "Customer display names"). Nothing is
    added when the script names no one or the turn already carries a ``from_name`` of its own; the name
    is sent exactly as the script has it (untrusted data, never cleaned up)."""
    out = dict(payload)
    if name and NAME_KEY not in out:
        out[NAME_KEY] = name
    return out


def encode_payload(payload: Mapping[str, Any]) -> tuple[bytes, str | None]:
    """The payload as UTF-8 JSON, and a problem when it had to be changed to be sendable.

    Lone surrogates (valid in JSON text, not in UTF-8) are sent as ``\\uXXXX`` escapes; a payload over
    `MAX_PAYLOAD_BYTES` has its longest string fields cut."""
    try:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    except (TypeError, ValueError) as exc:  # NaN is allowed by json; only odd objects land here
        return b'{"type":null}', f"payload could not be encoded ({type(exc).__name__}); sent an empty one"
    size = len(data)
    if size <= MAX_PAYLOAD_BYTES:
        return data, None
    cut = {k: (v[: MAX_PAYLOAD_BYTES // 8] if isinstance(v, str) else v) for k, v in payload.items()}
    data = json.dumps(cut, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    if len(data) > MAX_PAYLOAD_BYTES:
        data = json.dumps({"type": payload.get("type")}, ensure_ascii=True, default=str).encode("ascii")
    return data, f"payload of {size} bytes was over {MAX_PAYLOAD_BYTES} bytes and was cut"


def text_of(payload: bytes) -> str | None:
    """The text of a received text message (content type 1), else None."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, dict) and obj.get("type") == TEXT_TYPE and not isinstance(obj.get("type"), bool):
        content = obj.get("content")
        return content if isinstance(content, str) else None
    return None
