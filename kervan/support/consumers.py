"""The live chat's WebSockets (Django Channels; the protocol the widget and the console speak).

VisitorConsumer: the storefront widget, at /ws/chat/visitor/?key=<visitor_key>. The key is the visitor's only way to
a conversation, and it reaches that one only: a wrong key is closed with 4404 before anything is sent.
AgentConsumer: the agents' console, at /ws/chat/agent/, on the staff session. Refused with 4403 unless the user may
write in support and has passed two-factor authentication where it is required (as TwoFactorMiddleware decides for
pages). An agent with a console open is online; the last of their sockets to close makes them offline.

Every write goes through kervan.support.chat_actions, which announces it to the groups after commit; typing goes
straight through the layer (nothing is stored). Frames of the wrong shape get an error frame, never a closed socket.
"""

import json
import logging
import time
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async as _database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from kervan.accounts import throttle
from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.support import chat_actions, chat_selectors
from kervan.support.chat_actions import AGENTS_GROUP, conversation_group
from kervan.support.models import AgentPresence, ChatConversation, ChatMessage

logger = logging.getLogger(__name__)


def database_sync_to_async(function):
    """Channels runs every database call of a process on ONE thread by default; at a hundred messages a second on
    PostgreSQL that thread is the queue every socket waits in (bench/chat_concurrency.py: p99 13 s). On a pool each
    call has its own thread and connection, while a consumer still awaits its own calls in order. SQLite takes one
    writer at a time anyway: there the pool only adds lock waits (p99 149 ms against 27 ms on one thread)."""
    one_thread = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    return _database_sync_to_async(function, thread_sensitive=one_thread)


CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
FRAME_MAX = 16_000  # bytes of one incoming frame: a 4000-character message in JSON, with room to spare
SOCKETS_TIMEOUT = 86_400  # the agent's socket count is forgotten after a day (a process that died never closed)
DEFAULT_VISITOR_LIMIT = (20, 10)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """What both sides share: JSON frames that are checked, and error frames for what is refused. Frames of any
    kind (typing and read marks cost the server too) are counted per socket: over `frames_per_10s` in a window of
    ten seconds the rest are answered with an error and dropped."""

    frames_per_10s = 60
    _window = (0.0, 0)

    def _flooding(self) -> bool:
        now = time.monotonic()
        started, count = self._window
        if now - started >= 10:
            started, count = now, 0
        self._window = (started, count + 1)
        return count + 1 > self.frames_per_10s

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self._flooding():
            if self._window[1] == self.frames_per_10s + 1:  # say it once per window
                await self.error("rate_limited", _("You are sending messages too fast; wait a few seconds."))
            return
        if text_data is None or len(text_data) > FRAME_MAX:
            await self.error("invalid_frame", _("Send one JSON object of at most 16 KB."))
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.error("invalid_frame", _("Send one JSON object with a type."))
            return
        handler = self.handlers().get(content["type"])
        if handler is None:
            await self.error("unknown_type", _("Unknown frame type."))
            return
        try:
            await handler(content)
        except KervanError as exc:
            await self.error(exc.code, exc.detail)

    def handlers(self) -> dict:
        raise NotImplementedError

    async def error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": str(detail)})

    async def chat_event(self, event) -> None:
        raise NotImplementedError


def _bool(value) -> bool:
    return value is True


# ---------------------------------------------------------------- the visitor


class VisitorConsumer(ChatConsumer):
    conversation_id: int | None = None

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        key = (query.get("key") or [""])[0]
        found = await self._open(key)
        await self.accept()
        if found is None:
            await self.error("not_found", _("This chat does not exist (any more); start a new one."))
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.key = key
        self.conversation_id = found["id"]
        await self.channel_layer.group_add(conversation_group(self.conversation_id), self.channel_name)
        await self.send_json(found["history"])

    @database_sync_to_async
    def _open(self, key: str) -> dict | None:
        conversation = chat_selectors.conversation_for_key(key)
        if conversation is None:
            return None
        chat_actions.chat_link_customer(conversation=conversation)  # the visitor may have identified since
        history = {
            "type": "history",
            "conversation": chat_selectors.visitor_status(conversation),
            "messages": [chat_selectors.visitor_message_payload(m) for m in chat_selectors.messages(conversation)],
        }
        return {"id": conversation.pk, "history": history}

    async def disconnect(self, code):
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(conversation_group(self.conversation_id), self.channel_name)

    def handlers(self) -> dict:
        return {"message": self.on_message, "typing": self.on_typing, "read": self.on_read}

    async def on_message(self, content) -> None:
        await self._post(content.get("body"))

    @database_sync_to_async
    def _post(self, body) -> None:
        limit = throttle.Limit.of(settings.KERVAN_CHAT_LIMITS.get("visitor_messages", DEFAULT_VISITOR_LIMIT))
        throttle.check(
            f"chat:visitor:{self.conversation_id}",
            limit,
            detail=_("You are sending messages too fast; wait a few seconds."),
            code="rate_limited",
        )
        conversation = ChatConversation.objects.get(pk=self.conversation_id)
        chat_actions.chat_post(conversation=conversation, sender=ChatMessage.Sender.VISITOR, body=body)

    async def on_typing(self, content) -> None:
        frame = {"type": "typing", "conversation": self.conversation_id, "on": _bool(content.get("on"))}
        await self.channel_layer.group_send(
            conversation_group(self.conversation_id), {"type": "chat.event", "visitor": None, "agent": frame}
        )

    @database_sync_to_async
    def on_read_sync(self, upto) -> None:
        conversation = ChatConversation.objects.get(pk=self.conversation_id)
        chat_actions.chat_read(conversation=conversation, side="visitor", upto=upto)

    async def on_read(self, content) -> None:
        await self.on_read_sync(content.get("upto"))

    async def chat_event(self, event) -> None:
        if event.get("visitor") is not None:
            await self.send_json(event["visitor"])


# ---------------------------------------------------------------- the agents


def _agent_allowed(scope) -> Actor | None:
    """The staff member behind the socket's session as an Actor, if they may answer chats; else None."""
    from kervan.accounts.two_factor import session_needs_two_factor

    user = scope.get("user")
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    actor = Actor.for_user(user)
    if not actor.can("support", "write"):
        return None
    if session_needs_two_factor(SimpleNamespace(session=scope["session"], user=user)):
        return None
    return actor


def _sockets_key(user_id: int) -> str:
    return f"chat:agent-sockets:{user_id}"


class AgentConsumer(ChatConsumer):
    actor: Actor | None = None
    frames_per_10s = 300  # an agent in several conversations at once

    async def connect(self):
        self.actor = await database_sync_to_async(_agent_allowed)(self.scope)
        await self.accept()
        if self.actor is None:
            await self.error("forbidden", _("Only agents of the support team may open the chat console."))
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.watched: set[int] = set()
        await self.channel_layer.group_add(AGENTS_GROUP, self.channel_name)
        conversations = await self._connect_sync()
        for payload in conversations:
            await self._watch(payload)
        await self.send_json({"type": "conversations", "conversations": conversations})

    @database_sync_to_async
    def _connect_sync(self) -> list[dict]:
        if _socket_count(self.actor.user_id, +1) == 1:
            chat_actions.chat_presence(actor=self.actor, status=AgentPresence.Status.ONLINE)
        return [chat_selectors.conversation_payload(c) for c in chat_selectors.agent_conversations(self.actor)]

    async def disconnect(self, code):
        if self.actor is None:
            return
        await self.channel_layer.group_discard(AGENTS_GROUP, self.channel_name)
        for pk in list(getattr(self, "watched", ())):
            await self.channel_layer.group_discard(conversation_group(pk), self.channel_name)
        await self._disconnect_sync()

    @database_sync_to_async
    def _disconnect_sync(self) -> None:
        if _socket_count(self.actor.user_id, -1) <= 0:
            cache.delete(_sockets_key(self.actor.user_id))
            chat_actions.chat_presence(actor=self.actor, status=AgentPresence.Status.OFFLINE)

    async def _watch(self, payload: dict) -> None:
        """Follow a conversation's messages while it is waiting or the agent's own; stop otherwise."""
        pk = payload["id"]
        mine = payload["status"] == "waiting" or (
            payload["status"] == "active" and payload["assignee_id"] == self.actor.user_id
        )
        if mine and pk not in self.watched:
            self.watched.add(pk)
            await self.channel_layer.group_add(conversation_group(pk), self.channel_name)
        elif not mine and pk in self.watched:
            self.watched.discard(pk)
            await self.channel_layer.group_discard(conversation_group(pk), self.channel_name)

    async def chat_event(self, event) -> None:
        frame = event.get("agent")
        if frame is None:
            return
        if frame.get("type") == "conversation":
            await self._watch(frame["conversation"])
        await self.send_json(frame)

    def handlers(self) -> dict:
        return {
            "presence": self.on_presence,
            "join": self.on_join,
            "message": self.on_message,
            "typing": self.on_typing,
            "read": self.on_read,
            "transfer": self.on_transfer,
            "close": self.on_close,
        }

    @database_sync_to_async
    def _act(self, content, action, **kwargs):
        conversation = chat_selectors.conversation_for_agent(self.actor, content.get("conversation"))
        if conversation is None:
            raise KervanError(_("There is no such chat."), "not_found", status=404)
        return action(conversation=conversation, **kwargs)

    async def on_presence(self, content) -> None:
        status = content.get("status")
        if status not in (AgentPresence.Status.ONLINE, AgentPresence.Status.AWAY):
            raise KervanError(_("Choose online or away."), "invalid_choice", field="status")
        await database_sync_to_async(chat_actions.chat_presence)(actor=self.actor, status=status)

    async def on_join(self, content) -> None:
        await self._act(content, chat_actions.chat_join, actor=self.actor)

    async def on_message(self, content) -> None:
        await self._act(
            content, chat_actions.chat_post, actor=self.actor, sender=ChatMessage.Sender.AGENT, body=content.get("body")
        )

    async def on_typing(self, content) -> None:
        conversation = await self._act(content, lambda conversation: conversation)
        frame = {"type": "typing", "on": _bool(content.get("on"))}
        await self.channel_layer.group_send(
            conversation_group(conversation.pk), {"type": "chat.event", "visitor": frame, "agent": None}
        )

    async def on_read(self, content) -> None:
        await self._act(content, chat_actions.chat_read, side="agent", upto=content.get("upto"))

    async def on_transfer(self, content) -> None:
        await self._act(content, chat_actions.chat_transfer, actor=self.actor, to=content.get("to"))

    async def on_close(self, content) -> None:
        await self._act(content, chat_actions.chat_close, actor=self.actor)


def _socket_count(user_id: int, change: int) -> int:
    """How many console sockets the agent has open, after `change` (in the shared cache: Redis across processes)."""
    key = _sockets_key(user_id)
    cache.add(key, 0, timeout=SOCKETS_TIMEOUT)
    try:
        return cache.incr(key, change)
    except ValueError:  # expired between the two calls
        cache.set(key, max(0, change), timeout=SOCKETS_TIMEOUT)
        return max(0, change)
