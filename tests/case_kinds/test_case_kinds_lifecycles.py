"""Case kinds: states, Vietnamese labels, allowed moves, notices and urgency, tied to the laws."""

from __future__ import annotations

import re
import unicodedata
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.case_kinds import (
    CaseKind,
    ComplaintState,
    DenunciationState,
    LandDisputeState,
    Notice,
    Step,
    lifecycle,
    statutory_catalogue,
)
from bridge.events import CaseState
from bridge.quiet_hours.settings import QuietHoursSettings

PROPERTIES = settings(deadline=None, max_examples=300)
KINDS = list(CaseKind)
C, D, L = ComplaintState, DenunciationState, LandDisputeState


def reachable(kind: CaseKind, sources) -> set[str]:
    cycle = lifecycle(kind)
    seen, queue = set(sources), deque(sources)
    while queue:
        for target in cycle.successors(queue.popleft()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


class TestEveryKind:
    @pytest.mark.parametrize("kind", KINDS)
    def test_labels_are_vietnamese_nfc_and_unique(self, kind):
        cycle = lifecycle(kind)
        labels = [spec.label for spec in cycle.specs]
        assert all(label and unicodedata.is_normalized("NFC", label) for label in labels)
        assert len(set(labels)) == len(labels)
        assert unicodedata.is_normalized("NFC", kind.label)

    @pytest.mark.parametrize("kind", KINDS)
    def test_every_state_is_reachable_from_a_first_state(self, kind):
        assert reachable(kind, lifecycle(kind).initial) == set(lifecycle(kind).states)

    @pytest.mark.parametrize("kind", KINDS)
    def test_every_case_can_end(self, kind):
        cycle = lifecycle(kind)
        for state in cycle.states:
            assert reachable(kind, [state]) & cycle.terminal(), state

    @pytest.mark.parametrize("kind", KINDS)
    def test_only_terminal_states_have_no_way_out(self, kind):
        cycle = lifecycle(kind)
        for state in cycle.states:
            assert (not cycle.successors(state)) == (state in cycle.terminal()), state

    @pytest.mark.parametrize("kind", KINDS)
    def test_every_clock_is_a_known_time_limit_started_by_an_earlier_state(self, kind):
        cycle = lifecycle(kind)
        names = set(statutory_catalogue().names())
        for spec in cycle.specs:
            if spec.deadline is not None:
                assert spec.deadline in names, spec.name
                assert not spec.pauses_clock
            for anchor in spec.clock_from:
                assert spec.name in reachable(kind, [anchor]), (anchor, spec.name)
                assert cycle.spec(anchor).deadline is not None

    @pytest.mark.parametrize("kind", KINDS)
    def test_what_the_law_requires_to_be_told_names_its_articles(self, kind):
        for spec in lifecycle(kind).specs:
            assert spec.source
            if spec.notice is Notice.REQUIRED:
                assert re.search(r"Art\. \d|Appendix", spec.source), spec.name

    @pytest.mark.parametrize("kind", KINDS)
    def test_urgent_states_are_ones_the_citizen_hears_of(self, kind):
        for spec in lifecycle(kind).specs:
            if spec.urgent:
                assert spec.notice is not Notice.NONE
                assert not spec.terminal

    @pytest.mark.parametrize("kind", KINDS)
    def test_unknown_state_names_are_refused(self, kind):
        with pytest.raises(ValueError, match="has no state"):
            lifecycle(kind).spec("NOT_A_STATE")


class TestAdministrativeProcedure:
    def test_the_ten_national_states_with_their_labels(self):
        cycle = lifecycle(CaseKind.ADMINISTRATIVE_PROCEDURE)
        assert cycle.states == tuple(state.value for state in CaseState)
        assert [s.label for s in cycle.specs] == [state.label for state in CaseState]

    def test_urgent_states_are_the_quiet_hours_defaults(self):
        urgent = lifecycle(CaseKind.ADMINISTRATIVE_PROCEDURE).urgent()
        assert urgent == set(QuietHoursSettings().urgent_states)

    def test_no_statutory_limit_the_appointment_date_is_per_procedure(self):
        assert all(s.deadline is None for s in lifecycle(CaseKind.ADMINISTRATIVE_PROCEDURE).specs)


class TestComplaint:
    cycle = staticmethod(lambda: lifecycle(CaseKind.COMPLAINT))

    def test_art_27_acceptance_or_refusal_with_reason(self):
        assert self.cycle().successors(C.RECEIVED) >= {C.ACCEPTED, C.NOT_ACCEPTED}
        assert self.cycle().spec(C.NOT_ACCEPTED).notice is Notice.REQUIRED
        assert self.cycle().spec(C.NOT_ACCEPTED).label == "Không thụ lý giải quyết khiếu nại"

    def test_art_29_30_first_instance_may_decide_without_dialogue(self):
        assert self.cycle().allows(C.ACCEPTED, C.FIRST_DECISION)

    def test_art_39_second_instance_always_holds_a_dialogue(self):
        assert not self.cycle().allows(C.SECOND_ACCEPTED, C.SECOND_DECISION)
        assert not self.cycle().allows(C.SECOND_VERIFYING, C.SECOND_DECISION)
        assert self.cycle().allows(C.SECOND_DIALOGUE, C.SECOND_DECISION)

    def test_art_33_after_the_first_decision_complain_again_or_sue(self):
        assert self.cycle().successors(C.FIRST_DECISION) == {
            C.SECOND_RECEIVED,
            C.LAWSUIT_FILED,
            C.DECISION_EFFECTIVE,
        }

    def test_art_11a_suspension_resumes_where_it_was_and_stops_the_clock(self):
        spec = self.cycle().spec(C.SUSPENDED)
        assert spec.pauses_clock
        assert spec.step is Step.SUSPENSION
        assert self.cycle().successors(C.SUSPENDED) >= {C.VERIFYING, C.SECOND_DIALOGUE}

    def test_decisions_and_dialogues_are_urgent(self):
        assert self.cycle().urgent() == {
            C.DIALOGUE,
            C.SECOND_DIALOGUE,
            C.FIRST_DECISION,
            C.SECOND_DECISION,
        }

    def test_the_decisions_carry_the_laws_names(self):
        assert (
            self.cycle().spec(C.FIRST_DECISION).label == "Quyết định giải quyết khiếu nại lần đầu"
        )
        assert (
            self.cycle().spec(C.SECOND_DECISION).label == "Quyết định giải quyết khiếu nại lần hai"
        )


class TestDenunciation:
    cycle = staticmethod(lambda: lifecycle(CaseKind.DENUNCIATION))

    def test_art_28_accept_verify_conclude_handle(self):
        path = [D.RECEIVED, D.ACCEPTED, D.VERIFYING, D.CONCLUDED, D.CONCLUSION_HANDLED, D.CLOSED]
        assert self.cycle().invalid_moves(path) == []

    def test_art_9_1_c_the_denouncer_is_told_of_these_steps(self):
        told = {s.name for s in self.cycle().specs if s.notice is Notice.REQUIRED}
        assert told == {
            D.FORWARDED,
            D.NOT_ACCEPTED,
            D.ACCEPTED,
            D.SUSPENDED,
            D.TERMINATED,
            D.CONCLUDED,
            D.RE_RESOLVING,
            D.NOT_RE_RESOLVED,
        }
        assert self.cycle().spec(D.VERIFYING).notice is Notice.NONE

    def test_the_conclusion_is_named_as_in_art_35(self):
        assert self.cycle().spec(D.CONCLUDED).label == "Kết luận nội dung tố cáo"

    def test_art_37_a_further_denunciation_is_re_resolved_or_refused(self):
        assert self.cycle().successors(D.FURTHER_DENUNCIATION) == {
            D.RE_RESOLVING,
            D.NOT_RE_RESOLVED,
            D.FORWARDED,
        }

    def test_nothing_urgent(self):
        assert self.cycle().urgent() == frozenset()


class TestLandDispute:
    cycle = staticmethod(lambda: lifecycle(CaseKind.LAND_DISPUTE))

    def test_art_235_mediation_comes_before_any_resolution(self):
        before = reachable(CaseKind.LAND_DISPUTE, [L.MEDIATION_REQUESTED]) - {
            L.RESOLUTION_REQUESTED
        }
        assert L.RESOLUTION_REQUESTED in reachable(CaseKind.LAND_DISPUTE, [L.MEDIATION_FAILED])
        assert not self.cycle().allows(L.MEDIATION_REQUESTED, L.RESOLUTION_REQUESTED)
        assert L.RESOLUTION_DECIDED in before

    def test_art_236_after_failed_mediation_the_committee_or_the_court(self):
        assert self.cycle().successors(L.MEDIATION_FAILED) == {
            L.RESOLUTION_REQUESTED,
            L.LAWSUIT_FILED,
        }

    def test_art_236_3_the_decision_is_challenged_or_takes_effect(self):
        assert self.cycle().successors(L.RESOLUTION_DECIDED) == {
            L.APPEALED,
            L.LAWSUIT_FILED,
            L.DECISION_EFFECTIVE,
        }

    def test_a_second_absence_from_mediation_means_a_new_meeting_or_failure(self):
        assert self.cycle().allows(L.MEDIATION_MEETING, L.MEDIATION_MEETING)
        assert self.cycle().allows(L.MEDIATION_MEETING, L.MEDIATION_FAILED)

    def test_meetings_and_decisions_are_urgent(self):
        assert self.cycle().urgent() == {L.MEDIATION_MEETING, L.RESOLUTION_DECIDED}


# ---------------------------------------------------------------- properties of the moves


@st.composite
def walks(draw):
    kind = draw(st.sampled_from(KINDS))
    cycle = lifecycle(kind)
    path = [draw(st.sampled_from(sorted(cycle.initial)))]
    for _ in range(draw(st.integers(0, 25))):
        onward = sorted(cycle.successors(path[-1]))
        if not onward:
            break
        path.append(draw(st.sampled_from(onward)))
    return kind, path


class TestMoveProperties:
    @PROPERTIES
    @given(walk=walks())
    def test_a_walk_along_allowed_moves_is_valid_and_ends_only_at_terminal_states(self, walk):
        kind, path = walk
        cycle = lifecycle(kind)
        assert cycle.invalid_moves(path) == []
        assert all(state not in cycle.terminal() for state in path[:-1])

    @PROPERTIES
    @given(data=st.data(), kind=st.sampled_from(KINDS))
    def test_a_move_not_in_the_table_is_reported(self, data, kind):
        cycle = lifecycle(kind)
        before = data.draw(st.sampled_from(cycle.states))
        after = data.draw(st.sampled_from(cycle.states))
        allowed = after in cycle.moves.get(before, frozenset())
        assert cycle.allows(before, after) is allowed
        first = min(cycle.initial)
        assert (cycle.invalid_moves([first, before, after]) == []) is (
            allowed and cycle.allows(first, before)
        )

    @PROPERTIES
    @given(kind=st.sampled_from(KINDS), name=st.text(max_size=30))
    def test_hostile_state_names_are_refused_with_a_value_error(self, kind, name):
        cycle = lifecycle(kind)
        if name in cycle.states:
            assert cycle.spec(name).name == name
        else:
            with pytest.raises(ValueError, match="has no state"):
                cycle.spec(name)

    @PROPERTIES
    @given(name=st.text(max_size=30))
    def test_hostile_kind_names_are_refused_with_a_value_error(self, name):
        if name in {k.value for k in CaseKind}:
            assert CaseKind(name).value == name
        else:
            with pytest.raises(ValueError, match="is not a valid CaseKind"):
                CaseKind(name)
