"""The REST subset (PROTOCOL.md §e.1–e.5, e.7): shapes and status codes as WuKongIM v2.2.5 answers.

Errors are HTTP 400 `{"msg": …, "status": 400}`; a configured manager token makes every call except
GET /health require the header `token` (HTTP 401, empty body otherwise); unknown paths are 404.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any

from agentdesk.httpd import Request, Response, json_response
from agentdesk.wukongim.packets import ChannelType, HeaderFlag

from .config import DevServerConfig
from .hub import Hub
from .ids import new_client_msg_no, valid_id
from .messaging import Messaging, Outgoing, recv_fits
from .restsync import SyncApi
from .restutil import (
    ApiError,
    body_obj,
    body_str_list,
    channel_of,
    get_int,
    get_str,
    get_str_list,
    get_uint8,
)
from .storage import CHANNEL_FLAGS, Storage
from .webhooks import WebhookPusher

OK: dict[str, Any] = {"status": 200}


class RestApi:
    def __init__(
        self,
        cfg: DevServerConfig,
        storage: Storage,
        hub: Hub,
        messaging: Messaging,
        webhooks: WebhookPusher,
        ws_url: Callable[[], str],
    ) -> None:
        self.cfg = cfg
        self.storage = storage
        self.hub = hub
        self.messaging = messaging
        self.webhooks = webhooks
        self._ws_url = ws_url
        sync = SyncApi(cfg, storage, messaging)
        self.routes: dict[tuple[str, str], Callable[[Request], Any]] = {
            ("GET", "/health"): lambda r: {"status": "ok"},
            ("POST", "/user/token"): self.user_token,
            ("POST", "/user/device_quit"): self.device_quit,
            ("POST", "/user/onlinestatus"): self.online_status,
            ("POST", "/user/systemuids_add"): self.systemuids_add,
            ("POST", "/user/systemuids_remove"): self.systemuids_remove,
            ("GET", "/user/systemuids"): lambda r: sorted(self.storage.system_uids),
            ("GET", "/route"): self.route,
            ("POST", "/route/batch"): self.route_batch,
            ("POST", "/message/send"): self.message_send,
            ("POST", "/channel/messagesync"): sync.messagesync,
            ("GET", "/channel/max_message_seq"): sync.max_message_seq,
            ("POST", "/conversation/sync"): sync.conversation_sync,
            ("POST", "/conversations/clearUnread"): sync.clear_unread,
            ("POST", "/conversations/setUnread"): sync.set_unread,
            ("POST", "/conversations/delete"): sync.delete_conversation,
            ("POST", "/channel"): self.channel_create,
            ("POST", "/channel/info"): self.channel_info,
            ("POST", "/channel/delete"): self.channel_delete,
            ("POST", "/channel/subscriber_add"): self.subscriber_add,
            ("POST", "/channel/subscriber_remove"): self.subscriber_remove,
        }

    async def handle(self, req: Request) -> Response:
        # WuKongIM's auth middleware runs before routing (unknown paths too); a blank token = no token
        token = self.cfg.manager_token
        if token and token.strip() and req.path != "/health":
            given = req.headers.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return Response(401, b"")
        route = self.routes.get((req.method, req.path))
        if route is None:
            return json_response({"msg": "not found", "status": 404}, 404)
        try:
            result = route(req)
        except ApiError as exc:
            return json_response({"msg": str(exc), "status": exc.status}, exc.status)
        return json_response(result)

    # -- users -------------------------------------------------------------------------------------

    def user_token(self, req: Request) -> Any:
        d = body_obj(req)
        uid, token = get_str(d, "uid"), get_str(d, "token")
        device_flag, level = get_uint8(d, "device_flag"), get_uint8(d, "device_level")
        if not uid.strip():
            raise ApiError("uid不能为空！")
        if not token.strip():
            raise ApiError("token不能为空！")
        if not valid_id(uid):
            raise ApiError("uid不能包含特殊字符！")
        if uid == self.cfg.system_uid:  # only the configured one: /user/systemuids_add bots log in
            raise ApiError("系统账号不允许更新token！")
        self.storage.set_token(uid, device_flag, token, level)
        if level == 1:
            self.hub.kick_device(
                uid, device_flag, delay=self.cfg.token_kick_close_delay, reason="login in other device"
            )
        return OK

    def device_quit(self, req: Request) -> Any:
        d = body_obj(req)
        uid = get_str(d, "uid")
        device_flag = get_int(d, "device_flag", -1)
        if not uid.strip():
            raise ApiError("uid不能为空！")
        self.storage.clear_token(uid, device_flag)
        self.hub.kick_device(uid, device_flag, delay=self.cfg.kick_close_delay, reason="device quit")
        return OK

    def online_status(self, req: Request) -> Any:
        out: list[dict[str, Any]] = []
        for uid in body_str_list(req):
            flags = sorted({c.device_flag for c in self.hub.online(uid)})
            out.extend({"uid": uid, "device_flag": flag, "online": 1} for flag in flags)
        return out

    def systemuids_add(self, req: Request) -> Any:
        uids = get_str_list(body_obj(req), "uids")
        self.storage.add_system_uids(u for u in uids if u)
        return OK

    def systemuids_remove(self, req: Request) -> Any:
        self.storage.remove_system_uids(get_str_list(body_obj(req), "uids"))
        return OK

    def route(self, req: Request) -> Any:
        return {"tcp_addr": "", "ws_addr": self._ws_url(), "wss_addr": ""}

    def route_batch(self, req: Request) -> Any:
        uids = body_str_list(req)
        return [{"uids": uids, "tcp_addr": "", "ws_addr": self._ws_url(), "wss_addr": ""}]

    # -- sending -----------------------------------------------------------------------------------

    def message_send(self, req: Request) -> Any:
        d = body_obj(req)
        header = d.get("header") or {}
        if not isinstance(header, dict):
            raise ApiError("header must be an object")
        flags = 0
        if get_int(header, "no_persist"):
            flags |= HeaderFlag.NO_PERSIST
        if get_int(header, "red_dot"):
            flags |= HeaderFlag.RED_DOT
        if get_int(header, "sync_once"):
            flags |= HeaderFlag.SYNC_ONCE
        from_uid = get_str(d, "from_uid") or self.cfg.system_uid
        client_msg_no = get_str(d, "client_msg_no") or new_client_msg_no()
        try:
            payload = base64.b64decode(get_str(d, "payload"), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("payload must be standard base64") from None
        if not payload:
            raise ApiError("payload cannot be empty")
        if len(payload) > 1_000_000:
            raise ApiError("payload too large")
        expire = get_int(d, "expire")
        if not 0 <= expire <= 0xFFFFFFFF:
            raise ApiError("expire must be between 0 and 4294967295 (u32 seconds)")
        subscribers = get_str_list(d, "subscribers")
        if not valid_id(from_uid):
            raise ApiError("from_uid must not contain @, # or &")
        if subscribers and not get_str(d, "channel_id"):
            targets = [uid for uid in subscribers if valid_id(uid)]
            for uid in targets:
                self._check_deliverable(from_uid, uid, client_msg_no, len(payload))
            for uid in targets:
                self.messaging.publish(
                    Outgoing(from_uid, uid, ChannelType.PERSON, client_msg_no, payload, flags, 0, expire)
                )
            return OK
        channel_id, channel_type = channel_of(d)
        self._check_deliverable(from_uid, channel_id, client_msg_no, len(payload))
        msg = self.messaging.publish(
            Outgoing(from_uid, channel_id, channel_type, client_msg_no, payload, flags, 0, expire)
        )
        return {"status": 200, "data": {"message_id": msg.message_id, "client_msg_no": client_msg_no}}

    def _check_deliverable(
        self, from_uid: str, channel_id: str, client_msg_no: str, payload_len: int
    ) -> None:
        """Refuse what no RECV could carry (a 32 767-byte string or the 1 MiB packet limit): it would be
        stored and answered with 200 but never reach a client."""
        if not recv_fits(from_uid, channel_id, client_msg_no, payload_len, encrypted=self.cfg.encryption):
            raise ApiError(
                "message too large for a RECV packet: ids must be at most 32767 bytes and the "
                f"{'encrypted ' if self.cfg.encryption else ''}payload must fit the 1 MiB packet limit"
            )

    # -- channels ----------------------------------------------------------------------------------

    def _flags(self, d: dict[str, Any]) -> dict[str, int]:
        return {name: get_int(d, name) for name in CHANNEL_FLAGS if name in d}

    def channel_create(self, req: Request) -> Any:
        d = body_obj(req)
        channel_id, channel_type = channel_of(d)
        subscribers = get_str_list(d, "subscribers")
        if channel_type == ChannelType.PERSON:
            raise ApiError("个人频道不支持添加订阅者！")
        self.storage.upsert_channel(channel_id, channel_type, self._flags(d))
        if subscribers or get_int(d, "reset"):
            self.storage.add_subscribers(
                channel_id, channel_type, subscribers, reset=bool(get_int(d, "reset"))
            )
        return OK

    def channel_info(self, req: Request) -> Any:
        d = body_obj(req)
        channel_id, channel_type = channel_of(d)
        self.storage.upsert_channel(channel_id, channel_type, self._flags(d))
        return OK

    def channel_delete(self, req: Request) -> Any:
        channel_id, channel_type = channel_of(body_obj(req))
        self.storage.delete_channel(channel_id, channel_type)
        return OK

    def subscriber_add(self, req: Request) -> Any:
        d = body_obj(req)
        channel_id, channel_type = channel_of(d)
        if channel_type == ChannelType.PERSON:
            raise ApiError("个人频道不支持添加订阅者！")
        uids = [u for u in get_str_list(d, "subscribers") if u]
        self.storage.add_subscribers(channel_id, channel_type, uids, reset=bool(get_int(d, "reset")))
        return OK

    def subscriber_remove(self, req: Request) -> Any:
        d = body_obj(req)
        channel_id, channel_type = channel_of(d)
        self.storage.remove_subscribers(channel_id, channel_type, get_str_list(d, "subscribers"))
        return OK
