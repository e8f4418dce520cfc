"""The satisfaction report's figures, computed from surveys."""

from __future__ import annotations

from bridge.feedback.report import satisfaction_report, to_csv
from bridge.feedback.store import Survey


def survey(n: int, *, dept: str, proc: str, score: int | None, asked: bool = True, comment=None):
    return Survey(
        case_code=f"C{n}",
        user_id=f"U{n}",
        province="thanh-hoa",
        final_state="RESULT_RETURNED",
        procedure_code=proc,
        procedure_name=f"Thủ tục {proc}",
        agency_code="000.20.31.H56",
        agency_name="Trung tâm Phục vụ hành chính công",
        department=dept,
        status="answered" if score else ("asked" if asked else "skipped"),
        reason=None,
        tries=1,
        due_at=0.0,
        asked_at=1.0 if asked else None,
        score=score,
        answered_at=2.0 if score else None,
        comment=comment,
        comment_until=None,
        published_at=None,
    )


def test_rows_per_agency_department_and_procedure():
    surveys = [
        survey(1, dept="Tư pháp", proc="1.000894", score=5),
        survey(2, dept="Tư pháp", proc="1.000894", score=2, comment="chờ lâu"),
        survey(3, dept="Kinh tế", proc="1.001612", score=4),
        survey(4, dept="Kinh tế", proc="1.001612", score=None),  # asked, no answer
        survey(5, dept="Kinh tế", proc="1.001612", score=None, asked=False),  # skipped
    ]
    rows = {(r.scope, r.key): r for r in satisfaction_report(surveys)}
    agency = rows["agency", "000.20.31.H56"]
    assert (agency.asked, agency.answered) == (4, 3)
    assert agency.response_rate == 0.75
    assert agency.mean_score == round(11 / 3, 2)
    assert (agency.very_satisfied, agency.satisfied, agency.unsatisfied) == (1, 1, 1)
    assert agency.unsatisfied_share == round(1 / 3, 4)
    assert agency.comments == 1
    justice = rows["department", "Tư pháp"]
    assert (justice.asked, justice.answered, justice.mean_score) == (2, 2, 3.5)
    business = rows["procedure", "1.001612"]
    assert (business.asked, business.answered, business.response_rate) == (2, 1, 0.5)
    assert [r.scope for r in satisfaction_report(surveys)][:1] == ["agency"]


def test_csv_has_a_header_and_a_line_per_row():
    rows = satisfaction_report([survey(1, dept="Tư pháp", proc="1.000894", score=5)])
    lines = to_csv(rows).splitlines()
    assert lines[0].startswith("scope,key,name,asked,answered")
    assert len(lines) == 1 + len(rows)
    assert to_csv([]).startswith("scope,key,name")
