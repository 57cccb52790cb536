"""Conversations: the router reads the turns it is told to, and a follow-up stays with the turn it follows."""

from __future__ import annotations

import pytest

from edge_router import EdgeRouter
from edge_router.backends.messages import routing_text
from edge_router.errors import ConfigurationError
from edge_router.testing import FakeCloud, FakeEmbedder, FakeLocal, FakeRouter


def _router(**kwargs) -> EdgeRouter:
    # FakeRouter scores a query's length / 100; with the default 30 % share the threshold is 0.7
    return EdgeRouter(local=FakeLocal(n_ctx=2000), cloud=FakeCloud(), router=FakeRouter(), embedder=FakeEmbedder(),
                      max_tokens=10, **kwargs)


def test_a_follow_up_stays_on_the_device_unless_the_router_is_confident():
    router = _router()
    chat = [{"role": "user", "content": "x" * 20}]
    first = router.chat(chat)
    assert first.route == "local"
    chat += [{"role": "assistant", "content": first.text}, {"role": "user", "content": "y" * 75}]
    second = router.chat(chat)
    assert second.route == "local" and "follow-up of a turn answered on the local" in second.decision.reason
    assert "follow-up" in [s["name"] for s in second.decision.stages]
    chat += [{"role": "assistant", "content": second.text}, {"role": "user", "content": "z" * 95}]
    third = router.chat(chat)
    assert third.route == "cloud" and "re-routed" in third.decision.reason, "0.95 is 0.25 from 0.7: confident"
    alone = router.chat([{"role": "user", "content": "y" * 75}])
    assert alone.route == "cloud", "the same message without the conversation is decided afresh"


def test_a_follow_up_of_an_answer_this_router_did_not_give_is_decided_afresh():
    router = _router()
    chat = [{"role": "user", "content": "x" * 20}, {"role": "assistant", "content": "someone else's answer"},
            {"role": "user", "content": "y" * 75}]
    assert router.chat(chat).route == "cloud"


def test_margin_zero_decides_every_turn_afresh():
    router = _router(follow_up_margin=0.0)
    first = router.chat("x" * 20)
    chat = [{"role": "user", "content": "x" * 20}, {"role": "assistant", "content": first.text},
            {"role": "user", "content": "y" * 75}]
    assert router.chat(chat).route == "cloud"


def test_routing_turns_reads_the_newest_turns_first():
    chat = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "a"},
            {"role": "user", "content": "second"}, {"role": "assistant", "content": "b"},
            {"role": "user", "content": "third"}]
    assert routing_text(chat) == "third"
    assert routing_text(chat, 2) == "third\n\nsecond"
    assert routing_text(chat, 5) == "third\n\nsecond\n\nfirst"
    router = _router(routing_turns=2)
    assert router.route(chat).score == pytest.approx(len("third\n\nsecond") / 100)


def test_settings_refuse_a_margin_outside_the_score_range():
    from edge_router.config import RouterSettings

    with pytest.raises(ConfigurationError, match="follow_up_margin"):
        RouterSettings(follow_up_margin=2.0)
