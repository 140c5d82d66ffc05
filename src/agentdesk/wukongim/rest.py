"""Async REST client for the WuKongIM HTTP API (PROTOCOL.md §e), built on httpx.

API (what the connection, the desk bot, the console and the tests use)::

    async with RestClient("http://127.0.0.1:5001", manager_token="…") as api:
        await api.user_token("alice", "secret", device_flag=1)
        route = await api.route()                                   # Route(ws_addr=…)
        sent = await api.message_send("group_1", 2, {"type": 1, "content": "hi"}, from_uid="bot")
        page = await api.channel_messagesync("alice", "group_1", 2, start_message_seq=1, pull_mode=1)
        convs = await api.conversation_sync("alice", {("group_1", 2): 17})

* Every request carries the manager ``token`` header when one is given, and uses explicit timeouts
  (`DEFAULT_TIMEOUT` = `Timeouts(connect=3, read=10, write=10, pool=5)`). httpx is imported lazily.
* Results are typed dataclasses: `MessageResp` (``message_id`` is an ``int``, ``payload`` is the
  decoded bytes, ``channel_id`` already corrected for person channels when the caller knows the
  channel), `SyncPage`, `Conversation`, `Route`, `SendResp`, `OnlineStatus`.
* Errors are `RestError` subclasses and never raw httpx exceptions: `Unauthorized` (401: wrong or
  missing manager token), `ServerRejected` (the server answered with an error; ``.msg`` is its
  message, ``.status`` the HTTP or WuKongIM status), `Unreachable` (connect/read failure or timeout),
  `BadResponse` (a body that is not what §e documents).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from agentdesk.wukongim.restmodels import (
    Conversation,
    MessageResp,
    OnlineStatus,
    Route,
    SendResp,
    SyncPage,
    encode_payload,
    format_last_msg_seqs,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_TIMEOUT",
    "BadResponse",
    "Conversation",
    "MessageResp",
    "OnlineStatus",
    "RestClient",
    "RestError",
    "Route",
    "SendResp",
    "ServerRejected",
    "SyncPage",
    "Timeouts",
    "Unauthorized",
    "Unreachable",
    "encode_payload",
    "format_last_msg_seqs",
]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds for each phase of a request (httpx.Timeout without importing httpx here)."""

    connect: float = 3.0
    read: float = 10.0
    write: float = 10.0
    pool: float = 5.0


#: connect 3 s, read 10 s, write 10 s, pool 5 s
DEFAULT_TIMEOUT = Timeouts()


class RestError(Exception):
    """A WuKongIM REST call failed. ``endpoint`` is the path, ``status`` the HTTP/WuKongIM status."""

    def __init__(self, endpoint: str, message: str, *, status: int | None = None, msg: str = "") -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.status = status
        #: the server's own error text (often Chinese), "" when it sent none
        self.msg = msg


class Unauthorized(RestError):
    """HTTP 401: the manager token is missing or wrong."""


class ServerRejected(RestError):
    """The server answered with an error status; ``msg`` carries its message."""


class Unreachable(RestError):
    """The server could not be reached (refused, DNS, TLS, timeout, connection dropped)."""


class BadResponse(RestError):
    """The server answered 200 with a body that does not have the documented shape."""


class RestClient:
    """One httpx.AsyncClient for one WuKongIM HTTP API base URL. Close it (or use ``async with``)."""

    def __init__(
        self,
        base_url: str,
        *,
        manager_token: str | None = None,
        timeout: Timeouts = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # httpx is imported on first use: its package __init__ pulls in rich (via its CLI module)
        # whenever rich is installed, and the protocol layer must stay terminal-free and cheap to import
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"token": manager_token} if manager_token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(
                connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
            ),
            transport=transport,
            trust_env=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        import httpx

        try:
            resp = await self._http.request(method, path, json=body, params=params)
        except httpx.TimeoutException as exc:
            raise Unreachable(path, f"timed out talking to {self.base_url} ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise Unreachable(path, f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from None
        if resp.status_code == 401:
            raise Unauthorized(path, "401 unauthorized: missing or wrong manager token", status=401)
        data: Any = None
        if resp.content:
            try:
                data = resp.json()
            except ValueError:
                data = None
        if resp.status_code != 200:
            msg = str(data.get("msg", "")) if isinstance(data, dict) else resp.text[:200]
            raise ServerRejected(
                path, f"HTTP {resp.status_code}: {msg or 'no message'}", status=resp.status_code, msg=msg
            )
        status = data.get("status") if isinstance(data, dict) else None
        if type(status) is int and status != 200 and len(data) <= 3:
            # /user/token & co. answer permission problems with HTTP 200 {"status": <reason code>}
            msg = str(data.get("msg", ""))
            raise ServerRejected(path, f"status {status}: {msg or 'rejected'}", status=status, msg=msg)
        return data

    async def _post(self, path: str, body: Any) -> Any:
        return await self._call("POST", path, body=body)

    @staticmethod
    def _shape(path: str, data: Any, kind: type) -> Any:
        if not isinstance(data, kind):
            raise BadResponse(path, f"expected a JSON {kind.__name__}, got {type(data).__name__}")
        return data

    # -- users ----------------------------------------------------------------------------------

    async def user_token(self, uid: str, token: str, *, device_flag: int = 1, device_level: int = 0) -> None:
        """Register/refresh a user's token for one device flag (creates the user)."""
        await self._post(
            "/user/token",
            {"uid": uid, "token": token, "device_flag": device_flag, "device_level": device_level},
        )

    async def user_device_quit(self, uid: str, *, device_flag: int = -1) -> None:
        """Clear the token of one device flag (−1 = all) and kick its connections."""
        await self._post("/user/device_quit", {"uid": uid, "device_flag": device_flag})

    async def user_onlinestatus(self, uids: Sequence[str]) -> list[OnlineStatus]:
        data = self._shape(
            "/user/onlinestatus", await self._post("/user/onlinestatus", list(uids)) or [], list
        )
        try:
            return [
                OnlineStatus(str(d["uid"]), int(d.get("device_flag", 0)), bool(d.get("online", 0)))
                for d in data
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse("/user/onlinestatus", f"unexpected entry: {exc}") from None

    async def user_systemuids_add(self, uids: Sequence[str]) -> None:
        await self._post("/user/systemuids_add", {"uids": list(uids)})

    # -- route / health -------------------------------------------------------------------------

    async def route(self, *, intranet: bool = False) -> Route:
        data = self._shape(
            "/route", await self._call("GET", "/route", params={"intranet": int(intranet)}), dict
        )
        return Route(
            str(data.get("tcp_addr", "")), str(data.get("ws_addr", "")), str(data.get("wss_addr", ""))
        )

    async def health(self) -> bool:
        """True when /health answers 200 (raises Unreachable when nothing answers)."""
        await self._call("GET", "/health")
        return True

    # -- messages -------------------------------------------------------------------------------

    async def message_send(
        self,
        channel_id: str,
        channel_type: int,
        payload: Mapping[str, Any] | bytes,
        *,
        from_uid: str = "",
        client_msg_no: str = "",
        red_dot: bool = True,
        sync_once: bool = False,
        no_persist: bool = False,
        expire: int = 0,
        subscribers: Sequence[str] = (),
    ) -> SendResp:
        """POST /message/send (backend send, no permission checks). 200 means accepted, not stored."""
        body: dict[str, Any] = {
            "header": {"no_persist": int(no_persist), "red_dot": int(red_dot), "sync_once": int(sync_once)},
            "channel_id": channel_id,
            "channel_type": channel_type,
            "expire": expire,
            "payload": base64.b64encode(encode_payload(payload)).decode("ascii"),
        }
        if from_uid:
            body["from_uid"] = from_uid
        if client_msg_no:
            body["client_msg_no"] = client_msg_no
        if subscribers:
            body["subscribers"] = list(subscribers)
        data = await self._post("/message/send", body)
        inner = data.get("data") if isinstance(data, dict) else None
        if not isinstance(inner, dict):
            return SendResp(0, client_msg_no)
        idstr = inner.get("message_idstr")
        mid = int(idstr) if isinstance(idstr, str) and idstr else int(inner.get("message_id", 0) or 0)
        return SendResp(mid, str(inner.get("client_msg_no", client_msg_no)))

    async def channel_messagesync(
        self,
        login_uid: str,
        channel_id: str,
        channel_type: int,
        *,
        start_message_seq: int = 0,
        end_message_seq: int = 0,
        limit: int = 100,
        pull_mode: int = 0,
    ) -> SyncPage:
        """One page of channel history. pull_mode 1: seq in [start, end) ascending (end 0 = open)."""
        path = "/channel/messagesync"
        data = self._shape(
            path,
            await self._post(
                path,
                {
                    "login_uid": login_uid,
                    "channel_id": channel_id,
                    "channel_type": channel_type,
                    "start_message_seq": start_message_seq,
                    "end_message_seq": end_message_seq,
                    "limit": limit,
                    "pull_mode": pull_mode,
                },
            ),
            dict,
        )
        try:
            msgs = [
                MessageResp.from_json(m, channel=(channel_id, channel_type))
                for m in data.get("messages") or []
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse(path, f"bad message in page: {exc}") from None
        msgs.sort(key=lambda m: m.message_seq)
        return SyncPage(
            int(data.get("start_message_seq", 0) or 0),
            int(data.get("end_message_seq", 0) or 0),
            bool(data.get("more", 0)),
            msgs,
        )

    async def channel_max_message_seq(
        self, channel_id: str, channel_type: int, *, login_uid: str = ""
    ) -> int:
        params: dict[str, Any] = {"channel_id": channel_id, "channel_type": channel_type}
        if login_uid:
            params["login_uid"] = login_uid
        path = "/channel/max_message_seq"
        data = self._shape(path, await self._call("GET", path, params=params), dict)
        return int(data.get("message_seq", 0) or 0)

    # -- conversations --------------------------------------------------------------------------

    async def conversation_sync(
        self,
        uid: str,
        last_msg_seqs: Mapping[tuple[str, int], int] | str = "",
        *,
        msg_count: int = 1,
        version: int = 0,
        only_unread: bool = False,
        exclude_channel_types: Iterable[int] = (),
    ) -> list[Conversation]:
        """Channels with news after ``last_msg_seqs`` (real channel ids: the peer uid for person ones)."""
        seqs = last_msg_seqs if isinstance(last_msg_seqs, str) else format_last_msg_seqs(last_msg_seqs)
        path = "/conversation/sync"
        data = await self._post(
            path,
            {
                "uid": uid,
                "version": version,
                "last_msg_seqs": seqs,
                "msg_count": max(1, msg_count),
                "only_unread": int(only_unread),
                "exclude_channel_types": list(exclude_channel_types),
                "page": 0,
                "page_size": 0,
            },
        )
        items = self._shape(path, data or [], list)
        out: list[Conversation] = []
        try:
            for c in items:
                cid, ctype = str(c["channel_id"]), int(c["channel_type"])
                out.append(
                    Conversation(
                        channel_id=cid,
                        channel_type=ctype,
                        unread=int(c.get("unread", 0) or 0),
                        timestamp=int(c.get("timestamp", 0) or 0),
                        last_msg_seq=int(c.get("last_msg_seq", 0) or 0),
                        last_client_msg_no=str(c.get("last_client_msg_no", "") or ""),
                        readed_to_msg_seq=int(c.get("readed_to_msg_seq", 0) or 0),
                        version=int(c.get("version", 0) or 0),
                        recents=[
                            MessageResp.from_json(m, channel=(cid, ctype)) for m in c.get("recents") or []
                        ],
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse(path, f"bad conversation entry: {exc}") from None
        return out

    async def conversations_clear_unread(
        self, uid: str, channel_id: str, channel_type: int, *, message_seq: int = 0
    ) -> None:
        await self._post(
            "/conversations/clearUnread",
            {"uid": uid, "channel_id": channel_id, "channel_type": channel_type, "message_seq": message_seq},
        )

    # -- channels -------------------------------------------------------------------------------

    async def channel_create(
        self,
        channel_id: str,
        channel_type: int,
        subscribers: Sequence[str] = (),
        *,
        large: bool = False,
        ban: bool = False,
        send_ban: bool = False,
        allow_stranger: bool = False,
        reset: bool = False,
    ) -> None:
        """POST /channel: create or update a channel (person channels take no subscribers)."""
        await self._post(
            "/channel",
            {
                "channel_id": channel_id,
                "channel_type": channel_type,
                "large": int(large),
                "ban": int(ban),
                "disband": 0,
                "send_ban": int(send_ban),
                "allow_stranger": int(allow_stranger),
                "reset": int(reset),
                "subscribers": list(subscribers),
            },
        )

    async def channel_delete(self, channel_id: str, channel_type: int) -> None:
        await self._post("/channel/delete", {"channel_id": channel_id, "channel_type": channel_type})

    async def channel_subscriber_add(
        self,
        channel_id: str,
        channel_type: int,
        subscribers: Sequence[str],
        *,
        reset: bool = False,
        temp: bool = False,
    ) -> None:
        await self._post(
            "/channel/subscriber_add",
            {
                "channel_id": channel_id,
                "channel_type": channel_type,
                "reset": int(reset),
                "temp_subscriber": int(temp),
                "subscribers": list(subscribers),
            },
        )

    async def channel_subscriber_remove(
        self, channel_id: str, channel_type: int, subscribers: Sequence[str], *, temp: bool = False
    ) -> None:
        await self._post(
            "/channel/subscriber_remove",
            {
                "channel_id": channel_id,
                "channel_type": channel_type,
                "temp_subscriber": int(temp),
                "subscribers": list(subscribers),
            },
        )
