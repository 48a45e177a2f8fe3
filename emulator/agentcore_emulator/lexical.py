"""A deterministic lexical relevance score, for what AWS ranks with a model: Memory's
retrieval and Gateway's tool search. The cosine of two texts' word sets (lowercased
words, no stemming): the same texts always score the same."""

from __future__ import annotations

import math
import re

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def score(query: set[str], document: set[str]) -> float:
    """0 (no word shared) to 1 (the same words)."""
    if not query or not document:
        return 0.0
    return len(query & document) / math.sqrt(len(query) * len(document))
