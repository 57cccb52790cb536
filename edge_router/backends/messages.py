"""Validate chat messages and pick the text a router looks at."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import InvalidInputError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})

Messages = list[dict[str, Any]]


def normalize(messages: str | Sequence[Any]) -> Messages:
    """Checked copies of ``messages``; a plain string becomes one user message.

    Every message needs a known ``role`` and string ``content`` (a list of text
    parts is joined by newlines); the last user message must contain more than
    whitespace.
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or isinstance(messages, (bytes, bytearray)):
        raise InvalidInputError(
            f"messages must be a string or a list of {{'role': ..., 'content': ...}} dicts, "
            f"not {type(messages).__name__}."
        )
    if not messages:
        raise InvalidInputError("messages is empty; pass at least one user message.")
    out: Messages = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidInputError(f"message {i} is a {type(message).__name__}; each message must be a dict.")
        role = message.get("role")
        if role not in ROLES:
            raise InvalidInputError(
                f"message {i} has role {role!r}; use one of {', '.join(sorted(ROLES))}."
            )
        content = message.get("content")
        if isinstance(content, list):
            content = _text_of_parts(i, role, content)
        elif content is None and (role == "tool" or message.get("tool_calls")):
            content = ""
        if not isinstance(content, str):
            raise InvalidInputError(
                f"message {i} ({role}) has content of type {type(content).__name__}; content must be a string "
                "or a list of text parts."
            )
        try:
            content.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInputError(f"message {i} ({role}) holds text that is not valid Unicode ({exc.reason} at "
                                    f"character {exc.start}); send UTF-8 text.") from None
        out.append({**message, "content": content})
    last_user = routing_text(out)
    if not last_user.strip():
        raise InvalidInputError("the last user message is empty or whitespace; write a question to answer.")
    return out


def _text_of_parts(i: int, role: str, parts: list) -> str:
    """OpenAI content parts: the text parts joined by newlines; any other kind is refused clearly."""
    texts = []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise InvalidInputError(
                f"message {i} ({role}) has a content part of type {kind!r}; edge-router routes text only: send "
                "text parts ({'type': 'text', 'text': ...}) or call the cloud API directly for images and audio."
            )
        texts.append(part["text"])
    return "\n".join(texts)


def has_tool_messages(messages: Messages) -> bool:
    """True when the conversation holds tool results or tool calls, which only the cloud model handles."""
    return any(m["role"] == "tool" or m.get("tool_calls") for m in messages)


def routing_text(messages: Messages, turns: int = 1) -> str:
    """The text the router scores: the last user message (as RouteLLM routes on the last user turn), then, with
    ``turns`` > 1, the user messages before it, newest first (a routing window that cuts the text cuts the oldest
    context)."""
    users = [m["content"] for m in reversed(messages) if m["role"] == "user"]
    if not users:
        raise InvalidInputError("messages contain no user message; add one with role 'user'.")
    return "\n\n".join(users[:turns])


KEPT_ROLES = ("system", "developer")


def trim_to_fit(messages: Messages, fits: Callable[[Messages], bool]) -> tuple[Messages, int] | None:
    """``messages`` with the oldest turns dropped until ``fits`` accepts them: whole turns, so the rest starts
    with a user message; system and developer messages and everything from the last user message on are kept.
    Returns (the trimmed conversation, messages dropped), or None when even the shortest does not fit."""
    head = [m for m in messages if m["role"] in KEPT_ROLES]
    turns = [m for m in messages if m["role"] not in KEPT_ROLES]
    last_user = max(i for i, m in enumerate(turns) if m["role"] == "user")
    for start in range(last_user + 1):
        if start and turns[start]["role"] != "user":
            continue
        candidate = head + turns[start:]
        if fits(candidate):
            return candidate, start
    return None
