"""History and conversations (PROTOCOL.md §e.4, §e.5), following WuKongIM v2.2.5's handlers:
`/channel/messagesync` pull modes and `more`, `/channel/max_message_seq`, `/conversation/sync` (recents
newest first, unread, `last_msg_seqs`), and the clearUnread / setUnread / delete read positions.
"""

from __future__ import annotations

from typing import Any

from agentdesk.httpd import Request
from agentdesk.wukongim.packets import ChannelType

from .config import DevServerConfig
from .ids import fake_channel_id, peer_in
from .messaging import Messaging
from .restutil import ApiError, body_obj, get_int, get_str, get_uint8, go_atoi, go_parse_uint64
from .storage import Storage

_MAX_LIMIT = 10_000
_DEFAULT_LIMIT = 100


class SyncApi:
    def __init__(self, cfg: DevServerConfig, storage: Storage, messaging: Messaging) -> None:
        self.cfg = cfg
        self.storage = storage
        self.messaging = messaging

    def _storage_id(self, uid: str, channel_id: str, channel_type: int) -> str:
        if channel_type == ChannelType.PERSON and "@" not in channel_id:
            return fake_channel_id(uid, channel_id)
        return channel_id

    # -- history -----------------------------------------------------------------------------------

    def messagesync(self, req: Request) -> Any:
        d = body_obj(req)
        login_uid = get_str(d, "login_uid")
        channel_id = get_str(d, "channel_id")
        channel_type = get_uint8(d, "channel_type")
        start = get_int(d, "start_message_seq")
        end = get_int(d, "end_message_seq")
        limit = get_int(d, "limit")
        pull_mode = get_int(d, "pull_mode")
        if not channel_id.strip():
            raise ApiError("channel_id不能为空！")
        if not login_uid.strip():
            raise ApiError("login_uid不能为空！")
        if start < 0 or end < 0:
            raise ApiError("message seqs must not be negative")
        if limit < 0:
            raise ApiError("limit must not be negative (0 = the default of 100)")
        limit = _DEFAULT_LIMIT if limit <= 0 else min(limit, _MAX_LIMIT)
        sid = fake_channel_id(login_uid, channel_id) if channel_type == ChannelType.PERSON else channel_id
        st = self.storage
        if st.last_seq(sid, channel_type) == 0 and (sid, channel_type) not in st.channels:
            return {"start_message_seq": 0, "end_message_seq": 0, "more": 0, "messages": []}
        if start == 0 and end == 0:
            messages = st.load_last(sid, channel_type, limit)
        elif pull_mode == 1:
            messages = st.load_next_range(sid, channel_type, start, end, limit)
        elif end <= start:
            messages = st.load_prev_range(sid, channel_type, start, end, limit)
        else:
            messages = []
        more = len(messages) >= limit
        if messages and end != 0:
            edge = messages[0] if pull_mode == 0 else messages[-1]
            if edge.message_seq == end:
                more = False
        return {
            "start_message_seq": start,
            "end_message_seq": end,
            "more": 1 if more else 0,
            "messages": [self.messaging.message_resp(m) for m in messages],
        }

    def max_message_seq(self, req: Request) -> Any:
        channel_id = req.query.get("channel_id", "")
        login_uid = req.query.get("login_uid", "")
        try:
            channel_type = int(req.query.get("channel_type", "0") or 0)
        except ValueError:
            raise ApiError("channel_type must be an integer") from None
        if not channel_id:
            raise ApiError("channel_id不能为空")
        if channel_type == ChannelType.PERSON and "@" not in channel_id and not login_uid.strip():
            raise ApiError("login_uid不能为空")
        sid = self._storage_id(login_uid, channel_id, channel_type)
        return {"message_seq": self.storage.last_seq(sid, channel_type)}

    # -- conversations -----------------------------------------------------------------------------

    def _user_channels(self, uid: str) -> set[tuple[str, int]]:
        st = self.storage
        keys = {(fake, int(ChannelType.PERSON)) for fake in st.person_channels.get(uid, ())}
        keys |= st.user_channels.get(uid, set())
        if st.last_seq(uid, ChannelType.VISITORS):
            keys.add((uid, int(ChannelType.VISITORS)))
        return keys

    def conversation_sync(self, req: Request) -> Any:
        d = body_obj(req)
        uid = get_str(d, "uid")
        version = get_int(d, "version")
        msg_count = get_int(d, "msg_count")
        only_unread = get_int(d, "only_unread")
        page, page_size = get_int(d, "page"), get_int(d, "page_size")
        excluded = d.get("exclude_channel_types") or []
        if not isinstance(excluded, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= 255 for t in excluded
        ):
            raise ApiError("exclude_channel_types must be an array of channel types (0-255)")
        known = self._parse_last_msg_seqs(get_str(d, "last_msg_seqs"))
        if not uid.strip() or msg_count <= 0:
            return []
        st = self.storage
        system_uid = self.cfg.system_uid
        rows: list[tuple[int, dict[str, Any]]] = []
        for sid, ctype in self._user_channels(uid):
            real = peer_in(sid, uid) if ctype == ChannelType.PERSON else sid
            if ctype == ChannelType.PERSON and real == system_uid:
                continue
            key = f"{real}-{ctype}"
            if ctype in excluded and key not in known:
                continue
            last = st.last_seq(sid, ctype)
            if last == 0:
                continue
            readed_to, deleted_at = st.conversation(uid, sid, ctype) or (0, 0)
            msg_seq = known.get(key, 0)
            if msg_seq:
                msg_seq += 1
            elif version > 0 or only_unread == 1:
                msg_seq = readed_to + 1
            if deleted_at > 0 and deleted_at > msg_seq:
                msg_seq = deleted_at + 1
            floor = msg_seq - 1 if msg_seq > 0 else 0
            if floor >= last:  # the client already has everything (also keeps huge seqs out of SQLite)
                continue
            recents = st.load_prev_range(sid, ctype, last, floor, msg_count)
            if not recents:
                continue
            recents.reverse()  # newest first
            newest = recents[0]
            unread = max(0, newest.message_seq - readed_to)
            if newest.from_uid == uid:
                readed_to, unread = newest.message_seq, 0
            if known.get(key, 0) and known[key] >= newest.message_seq:
                continue
            rows.append(
                (
                    newest.message_id,
                    {
                        "channel_id": real,
                        "channel_type": ctype,
                        "unread": unread,
                        "timestamp": newest.timestamp,
                        "last_msg_seq": newest.message_seq,
                        "last_client_msg_no": newest.client_msg_no,
                        "offset_msg_seq": 0,
                        "readed_to_msg_seq": readed_to,
                        "version": newest.timestamp * 1_000_000_000,
                        "recents": [self.messaging.message_resp(m) for m in recents],
                    },
                )
            )
        rows.sort(key=lambda r: r[0], reverse=True)
        out = [r[1] for r in rows]
        if page > 0:
            size = 100 if page_size <= 0 else min(page_size, 500)
            out = out[(page - 1) * size : page * size]
        return out

    @staticmethod
    def _parse_last_msg_seqs(text: str) -> dict[str, int]:
        """`channelId:channelType:lastSeq|…` → {"channelId-channelType": lastSeq}, exactly as WuKongIM's
        handler: items without three parts are skipped, the type goes through strconv.Atoi and the seq
        through strconv.ParseUint with their errors ignored (0; an overflowing seq is 2**64-1)."""
        out: dict[str, int] = {}
        for item in text.split("|"):
            parts = item.split(":")
            if len(parts) != 3:
                continue
            out[f"{parts[0]}-{go_atoi(parts[1])}"] = go_parse_uint64(parts[2])
        return out

    def _conversation_req(self, req: Request) -> tuple[dict[str, Any], str, str, int]:
        d = body_obj(req)
        uid = get_str(d, "uid")
        channel_id = get_str(d, "channel_id")
        channel_type = get_uint8(d, "channel_type")
        if not uid.strip():
            raise ApiError("uid不能为空！")
        if not channel_id.strip() or channel_type == 0:
            raise ApiError("channel_id or channel_type cannot be empty")
        sid = fake_channel_id(uid, channel_id) if channel_type == ChannelType.PERSON else channel_id
        return d, uid, sid, channel_type

    def clear_unread(self, req: Request) -> Any:
        _, uid, sid, ctype = self._conversation_req(req)
        last = self.storage.last_seq(sid, ctype)
        readed_to, _ = self.storage.conversation(uid, sid, ctype) or (0, 0)
        if readed_to < last:
            self.storage.set_readed_to(uid, sid, ctype, last)
        return {"status": 200}

    def set_unread(self, req: Request) -> Any:
        d, uid, sid, ctype = self._conversation_req(req)
        unread = get_int(d, "unread")
        last = self.storage.last_seq(sid, ctype)
        target = last
        if unread > last:
            target = max(last - 1, 0)
        elif unread > 0:
            target = last - unread
        readed_to, _ = self.storage.conversation(uid, sid, ctype) or (0, 0)
        if readed_to < target:
            self.storage.set_readed_to(uid, sid, ctype, target)
        return {"status": 200}

    def delete_conversation(self, req: Request) -> Any:
        _, uid, sid, ctype = self._conversation_req(req)
        self.storage.set_deleted_at(uid, sid, ctype, self.storage.last_seq(sid, ctype))
        return {"status": 200}
