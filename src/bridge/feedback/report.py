"""Satisfaction per agency, department and procedure, from the surveys of a period (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from bridge.feedback.answers import Level, level_of

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bridge.feedback.store import Survey

__all__ = ["ReportRow", "satisfaction_report", "to_csv"]


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group's figures; ``scope`` says which: agency, department or procedure."""

    scope: str
    key: str
    name: str
    asked: int
    answered: int
    response_rate: float | None
    mean_score: float | None
    very_satisfied: int
    satisfied: int
    unsatisfied: int
    unsatisfied_share: float | None
    comments: int


def _row(scope: str, key: str, name: str, group: list[Survey]) -> ReportRow:
    asked = [s for s in group if s.asked_at is not None]
    answered = [s for s in asked if s.score is not None]
    levels = [level_of(s.score) for s in answered if s.score is not None]
    scores = [s.score for s in answered if s.score is not None]
    unsatisfied = levels.count(Level.UNSATISFIED)
    return ReportRow(
        scope=scope,
        key=key,
        name=name,
        asked=len(asked),
        answered=len(answered),
        response_rate=round(len(answered) / len(asked), 4) if asked else None,
        mean_score=round(sum(scores) / len(scores), 2) if scores else None,
        very_satisfied=levels.count(Level.VERY_SATISFIED),
        satisfied=levels.count(Level.SATISFIED),
        unsatisfied=unsatisfied,
        unsatisfied_share=round(unsatisfied / len(levels), 4) if levels else None,
        comments=sum(1 for s in answered if s.comment),
    )


def satisfaction_report(surveys: Iterable[Survey]) -> list[ReportRow]:
    """Rows per receiving agency, then per handling department, then per procedure.

    ``asked`` counts the surveys that reached the citizen (skipped ones are not asked);
    ``response_rate`` is answered / asked; ``unsatisfied_share`` is the share of "chưa hài
    lòng" (scores 1-2) among the answers.
    """
    everything = list(surveys)
    rows: list[ReportRow] = []
    groups: dict[tuple[str, str, str], list[Survey]] = {}
    for survey in everything:
        for scope, key, name in (
            ("agency", survey.agency_code, survey.agency_name),
            ("department", survey.department or "", survey.department or "(không rõ)"),
            ("procedure", survey.procedure_code, survey.procedure_name),
        ):
            groups.setdefault((scope, key, name), []).append(survey)
    order = {"agency": 0, "department": 1, "procedure": 2}
    for (scope, key, name), group in sorted(
        groups.items(), key=lambda g: (order[g[0][0]], g[0][1])
    ):
        rows.append(_row(scope, key, name, group))
    return rows


def to_csv(rows: Iterable[ReportRow]) -> str:
    """The rows as CSV (UTF-8 text, a header line)."""
    out = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        values = asdict(row)
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(values), lineterminator="\n")
            writer.writeheader()
        writer.writerow(values)
    if writer is None:
        out.write(",".join(f.name for f in fields(ReportRow)) + "\n")
    return out.getvalue()
