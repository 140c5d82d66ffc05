"""Property test: random JSON bodies on every REST endpoint of a real in-process devserver.

Whatever arrives (wrong types, huge or negative numbers, unicode and forbidden characters in ids,
missing fields, non-objects), the answer is HTTP 200 with JSON or HTTP 400 `{"msg": <non-empty str>,
"status": 400}` — never a 500, a dropped connection or a hang. The server runs on its own event loop in
a background thread so that hypothesis drives plain synchronous HTTP requests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agentdesk.devserver.server import DevServer
from fixtures_devserver import DEVSERVER_MANAGER_TOKEN, devserver_config

POST_PATHS = (
    "/user/token",
    "/user/device_quit",
    "/user/onlinestatus",
    "/user/systemuids_add",
    "/user/systemuids_remove",
    "/route/batch",
    "/message/send",
    "/channel/messagesync",
    "/conversation/sync",
    "/conversations/clearUnread",
    "/conversations/setUnread",
    "/conversations/delete",
    "/channel",
    "/channel/info",
    "/channel/delete",
    "/channel/subscriber_add",
    "/channel/subscriber_remove",
)
#: every field name any endpoint reads, so random objects hit the typed accessors
FIELDS = (
    "uid",
    "token",
    "device_flag",
    "device_level",
    "uids",
    "header",
    "no_persist",
    "red_dot",
    "sync_once",
    "client_msg_no",
    "from_uid",
    "channel_id",
    "channel_type",
    "expire",
    "payload",
    "subscribers",
    "login_uid",
    "start_message_seq",
    "end_message_seq",
    "limit",
    "pull_mode",
    "version",
    "last_msg_seqs",
    "msg_count",
    "only_unread",
    "exclude_channel_types",
    "page",
    "page_size",
    "message_seq",
    "unread",
    "reset",
    "ban",
    "send_ban",
    "disband",
    "large",
    "allow_stranger",
)

_ints = st.one_of(
    st.integers(-3, 12),
    st.sampled_from(
        [255, 256, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30]
    ),
    st.integers(),
)
_floats = st.one_of(st.sampled_from([0.0, 1.0, 1.5, -1.0, 1e300, -0.0]), st.floats(allow_nan=False))
_ids = st.one_of(
    st.sampled_from(["alice", "bob", "group_1", "v1___vstr", "____system", "a@b", "x#y", "&", " ", ""]),
    st.text(max_size=12),
)
_numeric_texts = st.one_of(
    _ints.map(str),
    st.text(max_size=6),
    st.sampled_from(["9" * 5000, " 1", "+1", "1_0", str(2**63), str(2**64), "0", "1", "3"]),
)
_seq_strings = st.lists(
    st.tuples(
        st.sampled_from(["alice", "bob", "group_1", "v1___vstr"]) | _ids, _numeric_texts, _numeric_texts
    ).map(":".join),
    max_size=4,
).map("|".join)
_scalars = st.one_of(st.none(), st.booleans(), _ints, _floats, _ids, _seq_strings, st.just("aGk="))
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_objects = st.dictionaries(st.sampled_from(FIELDS), _json, max_size=10)
# plausible values (the uids and channels the fixture created) reach the deeper code paths
_known_uid = st.sampled_from(["alice", "bob", "v1___vstr"])
_seq_text = st.one_of(
    st.integers(0, 5).map(str),
    st.sampled_from([str(2**63 - 1), str(2**63), str(2**64), "9" * 5000, " 1", "+1", "1_0", "-1", ""]),
    _numeric_texts,
)
_known_seqs = st.lists(
    st.tuples(
        st.sampled_from(["bob:1", "alice:1", "group_1:2", "v1___vstr:10", "bob: 1", "x:y"]), _seq_text
    ).map(":".join),
    min_size=1,
    max_size=3,
).map("|".join)
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "uid": _known_uid,
    "login_uid": _known_uid,
    "from_uid": _known_uid,
    "channel_id": st.sampled_from(["bob", "alice", "group_1", "v1___vstr"]),
    "channel_type": st.sampled_from([1, 2, 10]),
    "start_message_seq": st.one_of(st.integers(0, 5), _ints),
    "end_message_seq": st.one_of(st.integers(0, 5), _ints),
    "limit": st.integers(-1, 5),
    "msg_count": st.integers(-1, 3),
    "pull_mode": st.integers(0, 1),
    "last_msg_seqs": _known_seqs,
    "payload": st.just("aGk="),
    "subscribers": st.lists(_known_uid, max_size=2),
    "uids": st.lists(_known_uid, max_size=2),
    "exclude_channel_types": st.lists(st.sampled_from([1, 2, 10]), max_size=2),
    "version": st.sampled_from([0, 0, 1, 2**62]),
    "only_unread": st.integers(0, 1),
}
#: the fields each endpoint reads: always present, plausible three times in four
_PATH_FIELDS = {
    "/user/token": ("uid", "token", "device_flag", "device_level"),
    "/user/device_quit": ("uid", "device_flag"),
    "/user/systemuids_add": ("uids",),
    "/user/systemuids_remove": ("uids",),
    "/message/send": (
        "header",
        "from_uid",
        "channel_id",
        "channel_type",
        "payload",
        "expire",
        "client_msg_no",
    ),
    "/channel/messagesync": (
        "login_uid",
        "channel_id",
        "channel_type",
        "start_message_seq",
        "end_message_seq",
        "limit",
        "pull_mode",
    ),
    "/conversation/sync": (
        "uid",
        "version",
        "last_msg_seqs",
        "msg_count",
        "only_unread",
        "exclude_channel_types",
        "page",
        "page_size",
    ),
    "/conversations/clearUnread": ("uid", "channel_id", "channel_type", "message_seq"),
    "/conversations/setUnread": ("uid", "channel_id", "channel_type", "unread"),
    "/conversations/delete": ("uid", "channel_id", "channel_type"),
    "/channel": ("channel_id", "channel_type", "subscribers", "reset", "ban", "send_ban", "disband"),
    "/channel/info": ("channel_id", "channel_type", "ban", "send_ban", "disband", "large"),
    "/channel/delete": ("channel_id", "channel_type"),
    "/channel/subscriber_add": ("channel_id", "channel_type", "subscribers", "reset"),
    "/channel/subscriber_remove": ("channel_id", "channel_type", "subscribers"),
}


def _field(name: str) -> st.SearchStrategy[Any]:
    plausible = _PLAUSIBLE.get(name, _ints)
    return st.one_of(plausible, plausible, plausible, _json)


def _bodies(path: str) -> st.SearchStrategy[Any]:
    fields = _PATH_FIELDS.get(path)
    if fields is None:  # endpoints whose body is an array of uids
        return st.one_of(st.lists(_ids, max_size=4), st.lists(_known_uid, max_size=3), _json, _objects)
    extra = {f: _json for f in FIELDS if f not in fields}
    plausible = st.fixed_dictionaries({f: _field(f) for f in fields}, optional=extra)
    return st.one_of(plausible, plausible, plausible, _objects, _json)


class ThreadedServer:
    """A DevServer on its own event loop in a daemon thread (started and stopped synchronously)."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="devserver-fuzz", daemon=True)
        self.thread.start()
        cfg = devserver_config(data_dir, webhook_url=None)
        self.server = DevServer(cfg)
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
            self.loop.close()


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    srv = ThreadedServer(tmp_path_factory.mktemp("fuzz"))
    try:
        with httpx.Client(
            base_url=srv.server.api_url, headers={"token": DEVSERVER_MANAGER_TOKEN}, timeout=30
        ) as client:
            # some state, so that sync endpoints walk real rows
            for uid in ("alice", "bob"):
                client.post("/user/token", json={"uid": uid, "token": "t", "device_flag": 1})
            client.post(
                "/channel", json={"channel_id": "group_1", "channel_type": 2, "subscribers": ["alice"]}
            )
            for ctype, cid in ((1, "bob"), (2, "group_1"), (10, "v1___vstr")):
                client.post(
                    "/message/send",
                    json={"from_uid": "alice", "channel_id": cid, "channel_type": ctype, "payload": "aGk="},
                )
            yield client
    finally:
        srv.close()


def _check(resp: httpx.Response, what: Any) -> None:
    assert resp.status_code in (200, 400), (what, resp.status_code, resp.text[:300])
    data = resp.json()
    if resp.status_code == 400:
        assert isinstance(data, dict) and data.get("status") == 400, (what, data)
        assert isinstance(data.get("msg"), str) and data["msg"].strip(), (what, data)


_KNOWN_CRASH = {"uid": "alice", "msg_count": 1, "last_msg_seqs": f"bob:1:{2**64}"}  # was HTTP 500


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(POST_PATHS), data=st.data())
@example(path="/conversation/sync", data=None).via("regression: last_msg_seqs seq >= 2**63")
def test_random_json_bodies_get_200_or_400(http: httpx.Client, path: str, data: st.DataObject | None) -> None:
    body = _KNOWN_CRASH if data is None else data.draw(_bodies(path), label="body")
    content = json.dumps(body).encode()
    _check(http.post(path, content=content, headers={"Content-Type": "application/json"}), (path, body))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.dictionaries(
        st.sampled_from(["channel_id", "channel_type", "login_uid", "intranet"]),
        st.one_of(_ids, _ints.map(str)),
        max_size=4,
    )
)
def test_random_query_strings_get_200_or_400(http: httpx.Client, params: dict[str, str]) -> None:
    _check(http.get("/channel/max_message_seq", params=params), params)
    _check(http.get("/route", params=params), params)


def test_server_still_answers_after_fuzzing(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok"}
    resp = http.post(
        "/channel/messagesync",
        json={
            "login_uid": "alice",
            "channel_id": "bob",
            "channel_type": 1,
            "limit": 5,
            "pull_mode": 1,
            "start_message_seq": 1,
        },
    )
    assert resp.status_code == 200 and resp.json()["messages"], resp.text
