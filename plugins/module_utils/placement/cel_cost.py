# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a CEL predicate costs, known before it runs.

Private to this collection (module_utils are not a public API). Pure.

The CEL library (``common-expression-language``) has no cost limit and holds
the GIL for the whole of an evaluation: a predicate of nested comprehensions
over literal lists (``[1,...,100].all(a, [1,...,100].all(b, ...))``) takes
seconds, during which no other thread of the controller runs (leader
renewals included). CEL has no loops and no recursion: its only iteration is
the comprehension macros (``all``, ``exists``, ``exists_one``, ``map``,
``filter``), each bounded by the size of what it iterates. So the cost of an
expression is known from its text: the sum, over its comprehensions, of the
iterated size times (one plus the cost of the body) -- with the sizes of
``cluster.labels`` and ``cluster.taints`` filled in per cluster.

:func:`analyse` reads an expression once (a small tokenizer: no CEL parser is
needed to find comprehensions and what they iterate); :meth:`Cost.steps` gives
the iterations for a cluster with ``labels`` labels and ``taints`` taints.
What cannot be sized from the text (an iterated variable, a function's result)
counts as ``UNKNOWN_SIZE`` elements, or the largest list written in the
expression if that is larger.

Budgets (measured on the development machine: one iteration of a comprehension
costs about 0.5 µs, so 20,000 steps hold the GIL about 10 ms):
``MAX_NESTING`` comprehensions inside one another, ``MAX_STEPS`` per evaluation
(checked at compile time with ``ASSUMED_LABELS`` labels and taints, and again
per cluster with its real counts), ``PLACEMENT_STEPS`` for all of one
placement's evaluations in one decision (about a quarter of a second).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
MAX_NESTING = 2
MAX_STEPS = 20_000
PLACEMENT_STEPS = 500_000
ASSUMED_LABELS = 64
UNKNOWN_SIZE = 100

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSE = {")": "(", "]": "[", "}": "{"}


def tokens(expression: str) -> list[str]:
    """The tokens of a CEL expression (whitespace dropped); a ValueError at a character it cannot read."""
    out, position = [], 0
    while position < len(expression):
        found = _TOKEN.match(expression, position)
        if found is None:
            raise ValueError(f"cannot read {expression[position : position + 10]!r} at column {position + 1}")
        if found.lastgroup != "space":
            out.append(found.group())
        position = found.end()
    return out


@dataclass
class Size:
    """How many elements something iterated has: ``constant + labels * L + taints * T``."""

    constant: int = 0
    labels: int = 0
    taints: int = 0

    def at(self, labels: int, taints: int) -> int:
        return self.constant + self.labels * labels + self.taints * taints


@dataclass
class Comprehension:
    size: Size
    body: list[Comprehension] = field(default_factory=list)

    def steps(self, labels: int, taints: int) -> int:
        return self.size.at(labels, taints) * (1 + sum(c.steps(labels, taints) for c in self.body))

    @property
    def depth(self) -> int:
        return 1 + max((c.depth for c in self.body), default=0)


@dataclass
class Cost:
    comprehensions: list[Comprehension]
    length: int  # tokens: the work outside comprehensions

    def steps(self, labels: int, taints: int) -> int:
        return self.length + sum(c.steps(labels, taints) for c in self.comprehensions)

    @property
    def nesting(self) -> int:
        return max((c.depth for c in self.comprehensions), default=0)


@lru_cache(maxsize=1024)
def analyse(expression: str) -> Cost:
    """The cost structure of an expression."""
    toks = tokens(expression)
    partner = _partners(toks)
    biggest = max([_literal_size(toks, i, partner) for i, t in enumerate(toks) if t == "["] or [0])
    unknown = max(UNKNOWN_SIZE, biggest)
    return Cost(_comprehensions(toks, 0, len(toks), partner, unknown), len(toks))


def _partners(toks: list[str]) -> dict[int, int]:
    """Opening bracket index <-> closing bracket index (unbalanced ones are left out)."""
    partner, stack = {}, []
    for i, t in enumerate(toks):
        if t in "([{":
            stack.append(i)
        elif t in _CLOSE and stack and toks[stack[-1]] == _CLOSE[t]:
            j = stack.pop()
            partner[i], partner[j] = j, i
    return partner


def _comprehensions(toks, start: int, end: int, partner, unknown: int) -> list[Comprehension]:
    """The outermost comprehensions in ``toks[start:end]``, each with those of its body."""
    out, i = [], start
    while i < end:
        if toks[i] == "." and i + 2 < end and toks[i + 1] in MACROS and toks[i + 2] == "(" and i + 2 in partner:
            close = partner[i + 2]
            receiver = _receiver_start(toks, i, partner)
            # the receiver's own comprehensions were counted already (they come first in the text)
            body = _comprehensions(toks, i + 3, close, partner, unknown)
            out.append(Comprehension(_size(toks, receiver, i, partner, unknown), body))
            i = close + 1
            continue
        i += 1
    return out


def _receiver_start(toks, dot: int, partner) -> int:
    """Where the primary expression a macro is called on begins (``x.y``, ``f(a)``, ``[...]``, ``(...)``)."""
    k = dot - 1
    while k >= 0:
        if toks[k] in _CLOSE and k in partner:
            k = partner[k]
            if toks[k] == "(" and k > 0 and re.match(r"[A-Za-z_]", toks[k - 1]):
                k -= 1  # a call: f(...) or x.f(...)
        if k > 0 and toks[k - 1] == ".":
            k -= 2
            continue
        break
    return max(k, 0)


def _size(toks, start: int, end: int, partner, unknown: int) -> Size:
    """How many elements ``toks[start:end]`` has, when iterated."""
    part = toks[start:end]
    if not part:
        return Size(unknown)
    if part[0] == "(" and partner.get(start) == end - 1:
        return _size(toks, start + 1, end - 1, partner, unknown)
    if part[0] in "[{" and partner.get(start) == end - 1:
        return Size(_literal_size(toks, start, partner))
    # a sum of lists: the sum of their sizes
    depth, pieces, piece_start = 0, [], start
    for i in range(start, end):
        if toks[i] in "([{":
            depth += 1
        elif toks[i] in ")]}":
            depth -= 1
        elif toks[i] == "+" and depth == 0:
            pieces.append((piece_start, i))
            piece_start = i + 1
    if pieces:
        pieces.append((piece_start, end))
        total = Size()
        for a, b in pieces:
            s = _size(toks, a, b, partner, unknown)
            total = Size(total.constant + s.constant, total.labels + s.labels, total.taints + s.taints)
        return total
    text = "".join(part)
    # x.map(...) / x.filter(...): at most as many as x
    if len(part) > 3 and part[-1] == ")" and (end - 1) in partner:
        opening = partner[end - 1]
        if opening >= start + 2 and toks[opening - 1] in ("map", "filter") and toks[opening - 2] == ".":
            return _size(toks, start, opening - 2, partner, unknown)
    if text.startswith("cluster.labels"):
        return Size(labels=1)
    if text.startswith("cluster.taints"):
        return Size(taints=1)
    if text in ("cluster.allocatable", "cluster.capacity"):
        return Size(3)
    return Size(unknown)


def _literal_size(toks, start: int, partner) -> int:
    """Elements of the list or map literal opening at ``start`` (top-level commas + 1, 0 when empty)."""
    end = partner.get(start)
    if end is None or end == start + 1:
        return 0
    depth, count = 0, 1
    for i in range(start + 1, end):
        if toks[i] in "([{":
            depth += 1
        elif toks[i] in ")]}":
            depth -= 1
        elif toks[i] == "," and depth == 0 and i + 1 < end:
            count += 1
    return count


def check(expression: str) -> Cost:
    """The cost of an expression, or a ValueError in user words when it is over a static bound."""
    cost = analyse(expression)
    if cost.nesting > MAX_NESTING:
        raise ValueError(
            f"nests comprehensions {cost.nesting} deep (all, exists, exists_one, map, filter inside one another); "
            f"at most {MAX_NESTING} are allowed"
        )
    steps = cost.steps(ASSUMED_LABELS, ASSUMED_LABELS)
    if steps > MAX_STEPS:
        raise ValueError(
            f"would take about {steps} steps per cluster (with {ASSUMED_LABELS} labels and taints), over the budget "
            f"of {MAX_STEPS}: iterate over smaller lists"
        )
    return cost
