"""Message validation: bad input gets a clear InvalidInputError."""

import pytest

from edge_router.backends.messages import normalize, routing_text
from edge_router.errors import InvalidInputError


def test_string_becomes_one_user_message():
    assert normalize("hi") == [{"role": "user", "content": "hi"}]


def test_routing_text_is_the_last_user_message():
    msgs = normalize([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ])
    assert routing_text(msgs) == "second"


@pytest.mark.parametrize(
    "messages, fragment",
    [
        ("", "empty or whitespace"),
        ("   \n\t", "empty or whitespace"),
        ([], "messages is empty"),
        ([{"role": "wizard", "content": "x"}], "role 'wizard'"),
        ([{"role": "user", "content": 42}], "content must be a string"),
        ([{"role": "user", "content": None}], "content must be a string"),
        (["just a string in a list"], "must be a dict"),
        ([{"role": "system", "content": "only a system prompt"}], "no user message"),
        (42, "must be a string or a list"),
    ],
)
def test_bad_input_is_refused_with_a_fix(messages, fragment):
    with pytest.raises(InvalidInputError) as info:
        normalize(messages)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_extra_keys_are_kept_for_the_cloud_api():
    original = [{"role": "user", "content": "q", "name": "bob"}]
    normalized = normalize(original)
    assert normalized == original
    assert normalized[0] is not original[0]


def test_content_as_text_parts_is_joined_and_other_parts_are_refused_clearly():
    parts = [{"role": "user", "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "2 + 2?"}]}]
    assert normalize(parts)[0]["content"] == "What is\n2 + 2?"
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]
    with pytest.raises(InvalidInputError, match="'image_url'; edge-router routes text only"):
        normalize(image)


def test_tool_messages_are_recognised():
    from edge_router.backends.messages import has_tool_messages

    chat = normalize([{"role": "user", "content": "Weather in Oslo?"},
                      {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
                      {"role": "tool", "tool_call_id": "1", "content": "4 degrees"}])
    assert has_tool_messages(chat) and not has_tool_messages(normalize("hi"))


def test_a_lone_surrogate_is_a_clear_input_error():
    from edge_router.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="not valid Unicode"):
        normalize("broken \ud800 text")


def test_trimming_drops_the_oldest_whole_turns_and_keeps_the_system_prompt_and_the_question():
    from edge_router.backends.messages import trim_to_fit

    conversation = [{"role": "system", "content": "S"}, {"role": "user", "content": "a " * 10},
                    {"role": "assistant", "content": "b " * 10}, {"role": "user", "content": "c " * 10},
                    {"role": "assistant", "content": "d"}, {"role": "user", "content": "last?"}]

    def fits(limit):
        return lambda m: sum(len(x["content"].split()) for x in m) <= limit

    kept, dropped = trim_to_fit(conversation, fits(100))
    assert dropped == 0 and kept == conversation
    kept, dropped = trim_to_fit(conversation, fits(15))
    assert dropped == 2 and [m["content"] for m in kept][:2] == ["S", "c " * 10]
    kept, dropped = trim_to_fit(conversation, fits(3))
    assert dropped == 4 and [m["role"] for m in kept] == ["system", "user"]
    assert trim_to_fit(conversation, fits(1)) is None
