"""The privacy stage: first in the decision, before anything can reach the network.

It scans every message for the policy's entity types (``privacy.scanner``: patterns and the name tagger, which
reads the router's own encoder pass of the routing text) and applies the app's rules. ``keep-local``: the query is
answered on the device and nothing after this stage can send it out (no fallback to a cloud either; a query
forced to the cloud is refused with ``PrivacyError``). ``redact``: the query may go out with every value
replaced by a placeholder (``Query.cloud_messages``), restored in the answer. The decision records the entity
types (names included where they do not trigger the policy) and the rules that matched (``Decision.privacy``),
never a value.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..defaults import Route
from ..errors import PrivacyError
from ..privacy.policy import PrivacyPolicy, Rule
from ..privacy.redaction import Redaction, redact_messages
from ..privacy.scanner import Scanner
from ..privacy.spans import Entity
from .decision import CLOUD, LOCAL
from .stages import Query, Verdict

PRIVATE_MODE = "privacy"  # the decision's mode when the policy kept the query on the device


class PrivacyStage:
    name = "privacy"

    def __init__(self, policy: PrivacyPolicy, *, local_available: bool, embedder: Any = None):
        self.policy, self.local_available, self.embedder = policy, local_available, embedder
        self._topics: dict[str, np.ndarray] = {}
        self.scanner = Scanner(policy, embedder)
        if any(rule.examples for rule in policy.rules) and embedder is None:
            raise PrivacyError("A privacy rule with example phrases (a topic) is matched on the router's embedding: "
                               "give the router an embedder.")

    def _topic_vectors(self, rule: Rule) -> np.ndarray:
        if rule.name not in self._topics:
            self._topics[rule.name] = np.asarray(self.embedder.embed(list(rule.examples)), np.float32)
        return self._topics[rule.name]

    def _matched_rules(self, query: Query) -> list[Rule]:
        text = "\n".join(m["content"] for m in query.messages)
        matched = [r for r in self.policy.rules if r.matches_text(text)]
        topics = [r for r in self.policy.rules if r.examples]
        if topics:
            vector = np.asarray(query.embed(self.embedder).vector, np.float32)  # the router reuses it
            matched += [r for r in topics if float((self._topic_vectors(r) @ vector).max()) >= r.similarity]
        return matched

    def _scan(self, query: Query) -> dict[int, list[Entity]]:
        """Each message's entities; the routing text's tagger reads the router's own pass of it, and the older
        turns' spans are reused from the turns before."""
        found = {}
        newest = max(i for i, m in enumerate(query.messages) if m["role"] == "user")
        for i, message in enumerate(query.messages):
            first = None
            if self.policy.tagger and self.scanner.shares_encoder and message["content"] == query.text:
                first = query.embed(self.embedder, keep_states=True).states
            found[i] = self.scanner.scan(message["content"], first, reuse=i < newest)
        return found

    def decide(self, query: Query, route: Route) -> Verdict | None:
        policy = self.policy
        mode = query.privacy or policy.mode  # a call may set its own mode
        if mode == "off" and not policy.rules:
            return None
        scanned = self._scan(query) if mode != "off" else {}
        found = {i: [e for e in entities if e.type in policy.types] for i, entities in scanned.items()}
        types = tuple(sorted({e.type for entities in found.values() for e in entities}))
        reported = tuple(sorted({e.type for entities in scanned.values() for e in entities} - set(types)))
        rules = self._matched_rules(query) if policy.rules else []
        exempt = any(r.action == "cloud" for r in rules)
        keep = any(r.action == "keep-local" for r in rules) or (types and mode == "keep-local" and not exempt)
        redact = any(r.action == "redact" for r in rules) or (types and mode == "redact" and not exempt)
        recorded = types + reported + tuple(f"rule:{r.name}" for r in rules)
        if keep:
            return self._keep_local(query, recorded)
        if redact:
            rule_spans = {i: [e for r in rules if r.action == "redact" for e in _rule_entities(r, m["content"])]
                          for i, m in enumerate(query.messages)}
            query.redaction = Redaction()
            spans = {i: [*(found.get(i, []) if not exempt else []), *rule_spans.get(i, [])]
                     for i in range(len(query.messages))}
            query.cloud_messages = redact_messages(query.messages, spans, query.redaction)
            return Verdict(None, f"holds {_named(recorded)}: {len(query.redaction)} values are replaced by "
                                 "placeholders before any cloud call", fields={"privacy": recorded})
        if types or rules:
            return Verdict(None, f"holds {_named(recorded)}, allowed to the cloud by the app's rules",
                           fields={"privacy": recorded})
        if reported:
            return Verdict(None, f"holds {_named(reported)}: reported, not a trigger of the privacy policy",
                           fields={"privacy": recorded})
        return None

    def _keep_local(self, query: Query, recorded: tuple[str, ...]) -> Verdict:
        if query.force == CLOUD:
            raise PrivacyError(f"This query holds {_named(recorded)}; the privacy policy keeps it on the device, so "
                               "it cannot be forced to the cloud (set privacy='redact' or 'off' to allow that).")
        if not self.local_available:
            raise PrivacyError(f"This query holds {_named(recorded)}; the privacy policy keeps it on the device and "
                               "no local model is configured, so it is refused, not sent.")
        query.private = True
        return Verdict(LOCAL, f"holds {_named(recorded)}: kept on the device by the privacy policy",
                       fields={"privacy": recorded}, mode=PRIVATE_MODE, final=True)


def _named(recorded: tuple[str, ...]) -> str:
    return ", ".join(recorded)


def _rule_entities(rule: Rule, text: str) -> list[Entity]:
    """The spans a text rule matched (a topic rule has none: it redacts nothing by itself)."""
    kind = "".join(c if c.isalnum() else "_" for c in rule.name.upper())
    return [Entity(kind, m.start(), m.end()) for p in rule.text_patterns() for m in re.finditer(p, text)
            if m.end() > m.start()]
