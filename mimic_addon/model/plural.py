"""Counts in messages for people: `1 endpoint`, `2 endpoints`."""
from __future__ import annotations


def plural(n: int, word: str) -> str:
    """`n` and `word`, with an `s` unless `n` is 1 (the words Mimic counts all take one)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
