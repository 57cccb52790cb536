"""What the privacy stage does with personal data: the mode, the entity types that trigger it, the app's rules.

Modes: ``keep-local`` (the default: a conversation holding a triggering entity is answered on the device and
never sent to a cloud), ``redact`` (it may go to the cloud with each value replaced by a placeholder, restored
in the answer), ``off``. Triggers are entity types or their groups (``detectors.GROUPS``); the default set is
contact, payment, national ID, network, secret and address. User rules map a regular expression, a keyword
list or a topic (a few example phrases, matched on the router's embedding) to ``keep-local``, ``redact`` or
``cloud`` (no privacy action for that query's rule match). ``tagger`` runs the name tagger (people's and
organisations' names, street addresses) beside the patterns; names are reported in the decision and trigger
the policy only when listed (group ``name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import ConfigurationError
from .detectors import DETECTORS, GROUPS

MODES = ("keep-local", "redact", "off")
ACTIONS = ("keep-local", "redact", "cloud")
DEFAULT_TRIGGERS = ("contact", "payment", "national-id", "network", "secret", "address")


def trigger_types(triggers: Sequence[str]) -> tuple[str, ...]:
    """Entity types named by ``triggers`` (types or groups), or a clear error for an unknown name."""
    types = []
    for name in triggers:
        matched = [t for t, group in GROUPS.items() if name in (t, group)]
        if not matched:
            known = sorted({*GROUPS, *GROUPS.values()})
            raise ConfigurationError(f"unknown privacy trigger {name!r}; use entity types or groups: "
                                     f"{', '.join(known)}.")
        types += [t for t in matched if t not in types]
    return tuple(types)


@dataclass(frozen=True)
class Rule:
    """An app's rule: ``pattern`` (a regular expression), ``keywords`` (any of them, case-insensitive, as words)
    or ``examples`` (phrases of a topic, matched when the query's embedding is within ``similarity`` of one),
    and the ``action`` it takes. ``name`` is what the decision records."""

    name: str
    action: str
    pattern: str | None = None
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    similarity: float = 0.6

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(self.keywords))  # lists from a settings file
        object.__setattr__(self, "examples", tuple(self.examples))
        if self.action not in ACTIONS:
            raise ConfigurationError(f"rule {self.name!r}: action must be one of {', '.join(ACTIONS)}, "
                                     f"not {self.action!r}.")
        if sum(bool(x) for x in (self.pattern, self.keywords, self.examples)) != 1:
            raise ConfigurationError(f"rule {self.name!r} needs exactly one of pattern, keywords or examples.")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ConfigurationError(f"rule {self.name!r}: {self.pattern!r} is not a regular expression "
                                         f"({exc}).") from None

    def text_patterns(self) -> list[str]:
        """The regular expressions a text rule matches (none for a topic rule)."""
        return [self.pattern] if self.pattern else [rf"(?i)\b{re.escape(k)}\b" for k in self.keywords]

    def matches_text(self, text: str) -> bool:
        return any(re.search(p, text) for p in self.text_patterns())


@dataclass(frozen=True)
class PrivacyPolicy:
    """``mode``, the ``triggers`` (entity types or groups) that set it off, the app's ``rules`` and whether the
    name ``tagger`` runs. ``types``: the trigger types; ``pattern_types``: those the pattern detectors find."""

    mode: str = "keep-local"
    triggers: tuple[str, ...] = DEFAULT_TRIGGERS
    rules: tuple[Rule, ...] = ()
    tagger: bool = True
    types: tuple[str, ...] = field(init=False, default=())
    pattern_types: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigurationError(f"privacy must be one of {', '.join(MODES)}, not {self.mode!r}.")
        triggered = trigger_types(self.triggers)
        if not self.tagger and {"PERSON", "ORGANIZATION"} & set(triggered):
            raise ConfigurationError("names are found by the name tagger: a policy that triggers on them needs "
                                     "tagger=True (drop --privacy-patterns-only).")
        object.__setattr__(self, "types", tuple(t for t in GROUPS if t in triggered))
        object.__setattr__(self, "pattern_types", tuple(t for t in DETECTORS if t in triggered))
