"""How sure is a drift candidate? Evidence per place, not one learning phase per endpoint.

A place in a document that showed no deviation in `seen` answers and now deviates in `run`
answers in a row is judged with the rule of succession (a uniform prior on how often it
deviates): the chance that an unchanged contract shows that run is

    P = prod_{i < run} (exceptions + 1 + i) / (seen + 2 + i)

A field present in 8 of 8 answers and missing from the next one: P = 1/10, it may be optional;
missing from the next two: P = 1/10 * 2/11 < 2%, a change. One answer alone is enough only on
strong evidence (P <= 0.4%: a place stable in about 250 answers). The alert's confidence is 1 - P. Places that already deviated (a field present in 95%
of answers) need far stronger evidence, and are reported one label lower if they deviated more than
once (see `drift.py`). A run not seen for MAX_IDLE judged answers (its place gone with what held it)
ends, so what it held back is learned.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..model.redact import redact_json
from ..model.schema import SchemaNode
from .drift import INFO, Change

ALPHA = 0.02           # a never-deviating place: alert when the run is this unlikely
ALPHA_GRADED = 1e-6    # a place that deviated before: a much longer run is needed
ALPHA_ERROR = 1e-4     # errors on a request shape that always succeeded: a few in a row (errors
                       # for a missing resource are normal one at a time)
ALPHA_ONE = 0.004      # one answer alone: only on strong evidence (a place stable in ~250 answers)
MAX_HELD = 32          # answers held back as they came per endpoint and status
MAX_SHAKY_NEW_HELD = 3  # answers held back for new fields in other kinds of objects (see `holds`)
MAX_RUNS = 64          # candidate changes followed per endpoint and status
MAX_IDLE = 32          # judged answers in a row without a run's place, neither as usual nor changed,
                       # that end the run (its place's parent gone too, say: it would hold answers forever)


def chance(seen: int, exceptions: int, run: int) -> float:
    """How likely an unchanged contract is to show this run (see the module docstring)."""
    p = 1.0
    for i in range(run):
        p *= (exceptions + 1 + i) / (seen + 2 + i)
    return p


def threshold(change: Change) -> float:
    if change.kind == "error_status":
        return ALPHA_ERROR
    return ALPHA_GRADED if change.exceptions or change.shaky else ALPHA


def weighed(change: Change, run: int, certain: bool = False, vouched: bool = True) -> tuple[Change, bool]:
    """The change with its confidence after `run` answers in a row, and whether to alert on it.

    New fields (INFO) are reported at once, unless shaky (in another kind of object, still
    learning: never); a shaky change needs the run of a place that deviated before; `certain`:
    the baseline is a declared contract (an imported spec), not a sample, so one deviation is enough;
    `vouched` False: only its path says the answer belongs to this history (`Brain._elder`), so
    it never alerts on one answer alone."""
    p = 0.0 if certain else chance(change.seen, change.exceptions, run)
    if change.kind == "new_field":
        sure = certain or not change.shaky
    else:
        sure = certain or p <= (threshold(change) if run > 1 else min(threshold(change), ALPHA_ONE))
    return replace(change, confidence=1.0 - p), sure and (vouched or run > 1)


def holds(change: Change, run: int, held: int) -> bool:
    """Does this candidate, not sure yet after `run` answers, hold its answer back (`held`: answers
    its endpoint holds back already)? Yes when it is BREAKING/WARNING, on a place that deviated
    before too: learned, the answers of a run would wear away its own evidence (a field present in
    53 of 54 answers, missing from the next six: learned, it is in 53 of 60, no longer almost always
    there, and the run stops before it is long enough for a place that deviated before). Not for an
    INFO change: holding answers for a rarely-null field arriving null (graded INFO) kept lists of
    items with many such fields holding answers without end (jellyfin); the price is that such a
    field null in 5% or more of the answers before may be learned nullable before its run alerts.
    But for a new field in another kind of object (`Change.shaky`) while few answers are held:
    learned at once, the field would be known when ordinary answers bring it next, and so never
    reported. New kinds that keep coming (one kind, or several taking turns) are learned after that."""
    return change.label != INFO or (change.shaky and max(run, held + 1) <= MAX_SHAKY_NEW_HELD)


@dataclass
class Suspicion:
    """Candidate changes of one endpoint and status not sure enough yet: answers in a row that
    showed each (`hold`: whether its answers are held back meanwhile, `holds`), and
    the answers held back, so that an optional field does not become "normal" nor a change slip
    into the schema before the evidence is in. Held bodies stay in memory as they came (they are
    redacted when learned or withheld); past MAX_HELD they are summarised, redacted, at once.
    Saved with its endpoint (`to_dict`: the held bodies summarised, redacted), so that a restart
    neither loses what was held nor starts the evidence again."""

    runs: dict[tuple[str, str], tuple[int, bool]] = field(default_factory=dict)
    held: list[Any] = field(default_factory=list)
    overflow: SchemaNode | None = None
    held_other: int = 0
    idle: dict[tuple[str, str], int] = field(default_factory=dict)  # (not saved: a restart starts them again)

    def holding(self) -> bool:
        return any(hold for _, hold in self.runs.values())

    def hold(self, body: Any, is_json: bool) -> None:
        if not is_json:
            self.held_other += 1
        elif len(self.held) < MAX_HELD:
            self.held.append(body)
        else:
            if self.overflow is None:
                self.overflow = SchemaNode()
            self.overflow.observe(redact_json(body))

    def keep(self, answers: SchemaNode | None, other: int) -> None:
        """Answers already summarised (an alert's withheld ones) wait with those held back."""
        if answers is not None and answers.count:
            if self.overflow is None:
                self.overflow = SchemaNode()
            self.overflow.merge(answers)
        self.held_other += other

    def held_count(self) -> int:
        return len(self.held) + (self.overflow.count if self.overflow is not None else 0) + self.held_other

    def take(self, into: SchemaNode) -> tuple[int, int]:
        """Learn everything held into `into` (redacted) and forget it: (JSON bodies, others)."""
        bodies = len(self.held)
        for body in self.held:
            into.observe(redact_json(body))
        if self.overflow is not None:
            bodies += self.overflow.count
            into.merge(self.overflow)
        other = self.held_other
        self.held, self.overflow, self.held_other = [], None, 0
        return bodies, other

    def to_dict(self) -> dict[str, Any]:
        held: SchemaNode | None = None
        if self.held or self.overflow is not None:
            held = SchemaNode()
            for body in self.held:
                held.observe(redact_json(body))
            if self.overflow is not None:
                held.merge(self.overflow)
        return {"runs": [[path, kind, run, hold] for (path, kind), (run, hold) in self.runs.items()],
                "held": held.to_dict() if held is not None else None, "held_other": self.held_other}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Suspicion:
        runs = {(str(path), str(kind)): (int(run), bool(hold)) for path, kind, run, hold in d.get("runs", [])}
        held = SchemaNode.from_dict(d["held"]) if d.get("held") else None
        return cls(runs, [], held, int(d.get("held_other", 0)))

    def absorb(self, other: Suspicion) -> None:
        """Take over another's runs and held answers (its endpoint was folded into this one's)."""
        for key, (run, hold) in other.runs.items():
            mine = self.runs.get(key)
            if mine is not None:
                self.runs[key] = (max(run, mine[0]), hold or mine[1])
            elif len(self.runs) < MAX_RUNS:
                self.runs[key] = (run, hold)
        for body in other.held:
            self.hold(body, True)
        if other.overflow is not None:
            if self.overflow is None:
                self.overflow = SchemaNode()
            self.overflow.merge(other.overflow)
        self.held_other += other.held_other

    def update(self, changes: list[Change], fine: set[str], is_json: bool) -> dict[tuple[str, str], int]:
        """Count one answer: its candidates extend their runs, a place it had as usual ends its
        run (a new field's place: any JSON answer without it), and so do MAX_IDLE answers in a row
        that neither had its place as usual nor changed. Returns each candidate's run length (this
        answer included)."""
        keys = {c.key for c in changes}
        for key in list(self.runs):
            if key in keys:
                continue
            path, kind = key
            idle = self.idle[key] = self.idle.get(key, 0) + 1
            if path in fine or (is_json and kind in ("not_json", "new_field")) or idle >= MAX_IDLE:
                del self.runs[key]
                del self.idle[key]
        out = {}
        held = self.held_count()
        for c in changes:
            self.idle.pop(c.key, None)  # (shown again; or a new run, whatever an ended one left)
            run = self.runs.get(c.key, (0, False))[0] + 1
            out[c.key] = run
            if c.key in self.runs or len(self.runs) < MAX_RUNS:
                self.runs[c.key] = (run, holds(c, run, held))
        return out
