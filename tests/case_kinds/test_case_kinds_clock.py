"""The due date of a case from its history: clocks, anchors, suspensions, re-resolution."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.case_kinds import (
    CaseKind,
    Circumstances,
    ComplaintState,
    Complexity,
    DenunciationState,
    Entry,
    LandDisputeState,
    Level,
    Party,
    WorkingCalendar,
    lifecycle,
    statutory_catalogue,
    statutory_due,
    vietnam_calendar,
)

PROPERTIES = settings(deadline=None, max_examples=200)
C, D, L = ComplaintState, DenunciationState, LandDisputeState


@cache
def vietnam() -> WorkingCalendar:
    return vietnam_calendar()


def due(kind, *steps, **kw):
    history = [Entry(state, day) for state, day in steps]
    return statutory_due(kind, history, catalogue=statutory_catalogue(), calendar=vietnam(), **kw)


class TestComplaint:
    received = (C.RECEIVED, date(2026, 7, 1))
    accepted = (C.ACCEPTED, date(2026, 7, 8))

    def test_received_waits_for_acceptance_within_7_working_days(self):
        got = due(CaseKind.COMPLAINT, self.received)
        assert got.on == date(2026, 7, 10)
        assert got.rule.key == "complaint.accept"
        assert got.party is Party.AGENCY

    def test_verification_runs_on_the_clock_started_by_acceptance(self):
        got = due(
            CaseKind.COMPLAINT, self.received, self.accepted, (C.VERIFYING, date(2026, 7, 10))
        )
        assert got.started == date(2026, 7, 8)
        assert got.on == date(2026, 8, 7)

    def test_a_suspended_case_has_no_running_limit_and_resumes_later(self):
        suspended = (C.SUSPENDED, date(2026, 7, 18))
        assert due(CaseKind.COMPLAINT, self.received, self.accepted, suspended) is None
        resumed = (C.VERIFYING, date(2026, 7, 28))
        got = due(CaseKind.COMPLAINT, self.received, self.accepted, suspended, resumed)
        assert got.on == date(2026, 8, 17)

    def test_the_first_decision_opens_the_citizens_30_days(self):
        decided = (C.FIRST_DECISION, date(2026, 8, 14))
        got = due(CaseKind.COMPLAINT, self.received, self.accepted, decided)
        assert got.party is Party.CITIZEN
        assert got.on == date(2026, 9, 14)  # Sunday 13/9 moves to Monday

    def test_a_remote_complex_second_instance_gets_70_days(self):
        second = (C.SECOND_ACCEPTED, date(2026, 3, 2))
        circumstances = Circumstances(complexity=Complexity.COMPLEX, remote_area=True)
        got = due(
            CaseKind.COMPLAINT,
            (C.SECOND_RECEIVED, date(2026, 2, 25)),
            second,
            circumstances=circumstances,
        )
        assert got.on == date(2026, 5, 11)

    def test_a_closed_case_has_no_limit(self):
        assert due(CaseKind.COMPLAINT, self.received, (C.NOT_ACCEPTED, date(2026, 7, 3))) is None


class TestDenunciation:
    accepted = (D.ACCEPTED, date(2026, 3, 2))
    complex_ = Circumstances(complexity=Complexity.COMPLEX)

    def test_an_extension_moves_the_conclusion(self):
        verifying = (D.VERIFYING, date(2026, 3, 5))
        got = due(
            CaseKind.DENUNCIATION,
            self.accepted,
            verifying,
            circumstances=self.complex_,
            extensions=[30],
        )
        assert got.on == date(2026, 5, 4)

    def test_extensions_do_not_apply_to_the_handling_of_the_conclusion(self):
        concluded = (D.CONCLUDED, date(2026, 4, 1))
        got = due(
            CaseKind.DENUNCIATION,
            self.accepted,
            concluded,
            circumstances=self.complex_,
            extensions=[30],
        )
        assert got.rule.key == "denunciation.conclusion.handle"
        assert got.on == date(2026, 4, 10)

    def test_re_resolution_restarts_the_clock(self):
        steps = [
            self.accepted,
            (D.CONCLUDED, date(2026, 3, 30)),
            (D.FURTHER_DENUNCIATION, date(2026, 4, 20)),
            (D.RE_RESOLVING, date(2026, 5, 5)),
            (D.VERIFYING, date(2026, 5, 12)),
        ]
        got = due(CaseKind.DENUNCIATION, *steps)
        assert got.started == date(2026, 5, 5)
        assert got.on == date(2026, 6, 4)

    def test_too_many_extensions_are_refused(self):
        with pytest.raises(ValueError, match="allows 1 extension"):
            due(
                CaseKind.DENUNCIATION,
                self.accepted,
                circumstances=self.complex_,
                extensions=[30, 30],
            )


class TestLandDispute:
    requested = (L.MEDIATION_REQUESTED, date(2026, 3, 2))

    def test_mediation_counts_from_the_request(self):
        accepted = (L.MEDIATION_ACCEPTED, date(2026, 3, 5))
        assert due(CaseKind.LAND_DISPUTE, self.requested).on == date(2026, 3, 5)
        assert due(CaseKind.LAND_DISPUTE, self.requested, accepted).on == date(2026, 4, 1)

    def test_a_province_chair_in_a_hardship_area_has_60_days(self):
        steps = [
            (L.RESOLUTION_REQUESTED, date(2026, 3, 2)),
            (L.RESOLUTION_ACCEPTED, date(2026, 3, 6)),
        ]
        circumstances = Circumstances(level=Level.PROVINCE, remote_area=True)
        assert due(CaseKind.LAND_DISPUTE, *steps, circumstances=circumstances).on == date(
            2026, 5, 5
        )

    def test_an_appeal_has_no_known_limit(self):
        steps = [(L.RESOLUTION_DECIDED, date(2026, 3, 2)), (L.APPEALED, date(2026, 3, 20))]
        assert due(CaseKind.LAND_DISPUTE, *steps) is None


class TestBadHistories:
    def test_an_empty_history_is_refused(self):
        with pytest.raises(ValueError, match="at least one"):
            due(CaseKind.COMPLAINT)

    def test_a_state_of_another_kind_is_refused(self):
        with pytest.raises(ValueError, match="has no state"):
            due(CaseKind.COMPLAINT, (L.MEDIATION_REQUESTED, date(2026, 3, 2)))

    def test_days_going_backwards_are_refused(self):
        with pytest.raises(ValueError, match="back in time"):
            due(CaseKind.COMPLAINT, (C.RECEIVED, date(2026, 3, 2)), (C.ACCEPTED, date(2026, 3, 1)))

    def test_a_history_without_the_state_that_starts_the_clock_gives_no_limit(self):
        assert due(CaseKind.COMPLAINT, (C.VERIFYING, date(2026, 3, 2))) is None


@st.composite
def histories(draw):
    kind = draw(st.sampled_from(list(CaseKind)))
    cycle = lifecycle(kind)
    day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    state = draw(st.sampled_from(sorted(cycle.initial)))
    history = [Entry(state, day)]
    for _ in range(draw(st.integers(0, 12))):
        onward = sorted(cycle.successors(history[-1].state))
        if not onward:
            break
        day += timedelta(days=draw(st.integers(0, 40)))
        history.append(Entry(draw(st.sampled_from(onward)), day))
    circumstances = draw(
        st.builds(
            Circumstances,
            complexity=st.sampled_from(Complexity),
            remote_area=st.booleans(),
            several_locations=st.booleans(),
            level=st.sampled_from([None, *Level]),
        )
    )
    return kind, history, circumstances


class TestProperties:
    @PROPERTIES
    @given(case=histories())
    def test_a_due_date_is_never_before_its_start_nor_the_states_that_share_it(self, case):
        kind, history, circumstances = case
        got = statutory_due(
            kind,
            history,
            catalogue=statutory_catalogue(),
            calendar=vietnam(),
            circumstances=circumstances,
        )
        current = lifecycle(kind).spec(history[-1].state)
        if got is None:
            return
        assert current.deadline == got.rule.key
        assert got.on > got.started
        assert got.started <= history[-1].on
        assert vietnam().is_working_day(got.on)
        assert got.on >= got.started + timedelta(days=got.period.days)

    @PROPERTIES
    @given(case=histories())
    def test_a_suspended_case_never_shows_a_running_limit(self, case):
        kind, history, circumstances = case
        got = statutory_due(
            kind,
            history,
            catalogue=statutory_catalogue(),
            calendar=vietnam(),
            circumstances=circumstances,
        )
        if lifecycle(kind).spec(history[-1].state).pauses_clock:
            assert got is None
