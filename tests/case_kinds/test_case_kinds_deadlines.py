"""Statutory time limits: the articles' figures, counting rules, pauses, extensions, overrides."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bridge.case_kinds import (
    Certainty,
    Circumstances,
    Complexity,
    DayCount,
    DeadlineCatalogue,
    DeadlineRule,
    Extensions,
    Level,
    Party,
    Pause,
    Period,
    Variant,
    WorkingCalendar,
    due_date,
    statutory_catalogue,
    vietnam_calendar,
)
from bridge.case_kinds.deadlines import rules_in
from bridge.errors import ConfigurationError

PROPERTIES = settings(deadline=None, max_examples=200)
FIRST = date(2026, 1, 1)


@cache
def vietnam() -> WorkingCalendar:
    return vietnam_calendar()


def rule(key: str, on: date = date(2026, 9, 1)) -> DeadlineRule:
    return statutory_catalogue().rule(key, on)


def due(key: str, start: date, circumstances: Circumstances | None = None, **kw):
    return due_date(rule(key, start), start, vietnam(), circumstances or Circumstances(), **kw)


COMPLEX = Circumstances(complexity=Complexity.COMPLEX)
ESPECIALLY = Circumstances(complexity=Complexity.ESPECIALLY_COMPLEX)
REMOTE = Circumstances(remote_area=True)
REMOTE_COMPLEX = Circumstances(complexity=Complexity.COMPLEX, remote_area=True)


class TestPeriod:
    @pytest.mark.parametrize(
        ("text", "period"),
        [
            ("30d", Period(30, DayCount.CALENDAR)),
            ("7wd", Period(7, DayCount.WORKING)),
            (" 0d ", Period(0, DayCount.CALENDAR)),
        ],
    )
    def test_parses_calendar_and_working_days(self, text, period):
        assert Period.parse(text) == period
        assert Period.parse(str(period)) == period

    @pytest.mark.parametrize("text", ["", "30", "d", "-3d", "30 days", "7WD", "99999d", "3.5d"])
    def test_refuses_anything_else(self, text):
        with pytest.raises(ValueError, match="period"):
            Period.parse(text)

    @PROPERTIES
    @given(text=st.text(max_size=20))
    def test_hostile_text_is_refused_or_read_back_exactly(self, text):
        try:
            period = Period.parse(text)
        except ValueError:
            return
        assert str(period) == text.strip()


class TestComplaintLaw:
    """Luật Khiếu nại 2011 as read; NĐ 124/2020 as amended by NĐ 155/2026."""

    def test_art_27_acceptance_within_10_days_before_july_2026(self):
        # Received Mon 15/6/2026: 10 ngày, the day of receipt not counted.
        assert due("complaint.accept", date(2026, 6, 15)) == date(2026, 6, 25)

    def test_nd_155_acceptance_within_7_working_days_from_july_2026(self):
        # Received Wed 1/7/2026: 2, 3, 6, 7, 8, 9, 10 July.
        assert due("complaint.accept", date(2026, 7, 1)) == date(2026, 7, 10)

    def test_the_version_follows_the_day_the_clock_started(self):
        versions = statutory_catalogue().versions("complaint.accept")
        assert [v.effective_from for v in versions] == [None, date(2026, 7, 1)]
        assert rule("complaint.accept", date(2026, 6, 30)).period(Circumstances()) == Period(
            10, DayCount.CALENDAR
        )

    @pytest.mark.parametrize(
        ("circumstances", "last_day"),
        [
            (Circumstances(), date(2026, 4, 1)),  # 30 days
            (COMPLEX, date(2026, 4, 16)),  # 45 days
            (REMOTE, date(2026, 4, 16)),  # 45 days in a remote area
            (REMOTE_COMPLEX, date(2026, 5, 4)),  # 60 days: Fri 1/5 and the weekend are off
        ],
    )
    def test_art_28_first_instance(self, circumstances, last_day):
        assert due("complaint.first_instance.resolve", date(2026, 3, 2), circumstances) == last_day

    @pytest.mark.parametrize(
        ("circumstances", "days"),
        [(Circumstances(), 45), (COMPLEX, 60), (REMOTE, 60), (REMOTE_COMPLEX, 70)],
    )
    def test_art_37_second_instance(self, circumstances, days):
        got = rule("complaint.second_instance.resolve").period(circumstances)
        assert got == Period(days, DayCount.CALENDAR)

    @pytest.mark.parametrize(("circumstances", "days"), [(Circumstances(), 30), (REMOTE, 45)])
    def test_art_33_the_citizen_has_30_days_45_remote_to_go_further(self, circumstances, days):
        second = rule("complaint.second_instance.file")
        assert second.party is Party.CITIZEN
        assert second.period(circumstances) == Period(days, DayCount.CALENDAR)

    def test_art_44_decision_effective_after_30_days(self):
        assert rule("complaint.decision.effective").party is Party.EFFECT
        assert due("complaint.decision.effective", date(2026, 3, 2)) == date(2026, 4, 1)

    def test_art_11a_suspension_is_not_counted(self):
        # Accepted 8/7/2026; suspended 18/7 (10 days used), continued 28/7: 20 days left.
        pause = Pause(date(2026, 7, 18), date(2026, 7, 28))
        got = due("complaint.first_instance.resolve", date(2026, 7, 8), pauses=[pause])
        assert got == date(2026, 8, 17)

    def test_a_complaint_cannot_be_extended(self):
        with pytest.raises(ValueError, match="cannot be extended"):
            due("complaint.first_instance.resolve", date(2026, 3, 2), COMPLEX, extensions=[10])


class TestDenunciationLaw:
    """Luật Tố cáo 2018 and NĐ 31/2019."""

    def test_art_24_initial_handling_7_working_days_10_with_several_places(self):
        assert due("denunciation.initial_handling", date(2026, 3, 2)) == date(2026, 3, 11)
        several = Circumstances(several_locations=True)
        assert due("denunciation.initial_handling", date(2026, 3, 2), several) == date(2026, 3, 16)

    def test_art_30_thirty_days(self):
        assert due("denunciation.resolve", date(2026, 3, 2)) == date(2026, 4, 1)

    def test_art_30_a_complex_case_gets_one_extension(self):
        # 60 days end on Fri 1/5/2026 (Labour Day): the limit runs to Monday 4/5 (BLDS Art. 148(5)).
        assert due("denunciation.resolve", date(2026, 3, 2), COMPLEX, extensions=[30]) == date(
            2026, 5, 4
        )
        with pytest.raises(ValueError, match="allows 1 extension"):
            due("denunciation.resolve", date(2026, 3, 2), COMPLEX, extensions=[30, 30])

    def test_art_30_an_especially_complex_case_gets_two(self):
        # 90 days end on Sunday 31/5/2026: the limit runs to Monday 1/6.
        got = due("denunciation.resolve", date(2026, 3, 2), ESPECIALLY, extensions=[30, 30])
        assert got == date(2026, 6, 1)

    def test_art_30_a_normal_case_gets_none_and_no_extension_exceeds_30_days(self):
        with pytest.raises(ValueError, match="allows 0 extension"):
            due("denunciation.resolve", date(2026, 3, 2), extensions=[10])
        with pytest.raises(ValueError, match="1 to 30 days"):
            due("denunciation.resolve", date(2026, 3, 2), COMPLEX, extensions=[31])

    def test_art_34_suspension_is_not_counted(self):
        pause = Pause(date(2026, 3, 12), date(2026, 3, 22))
        # 10 days used, 20 left after Sun 22/3: Sat 11/4, so Monday 13/4.
        assert due("denunciation.resolve", date(2026, 3, 2), pauses=[pause]) == date(2026, 4, 13)

    def test_art_36_and_37_follow_up_limits(self):
        assert due("denunciation.conclusion.handle", date(2026, 3, 2)) == date(2026, 3, 11)
        assert due("denunciation.further.review", date(2026, 3, 2)) == date(2026, 3, 23)


class TestLandLaw:
    """Luật Đất đai 2024 Art. 235-236, NĐ 102/2024 Art. 105, NĐ 151/2025."""

    def test_art_235_mediation_within_30_days_of_the_request(self):
        assert due("land.mediation", date(2026, 3, 2)) == date(2026, 4, 1)
        assert due("land.mediation.accept", date(2026, 3, 2)) == date(2026, 3, 5)

    @pytest.mark.parametrize(
        ("level", "remote", "days"),
        [
            (Level.COMMUNE, False, 45),
            (Level.COMMUNE, True, 55),
            (Level.PROVINCE, False, 50),
            (Level.PROVINCE, True, 60),
            (None, False, 45),
        ],
    )
    def test_nd_151_resolution_by_the_commune_or_province_chair(self, level, remote, days):
        circumstances = Circumstances(level=level, remote_area=remote)
        assert rule("land.resolution").period(circumstances) == Period(days, DayCount.CALENDAR)

    def test_nd_151_acceptance_notice_within_5_working_days(self):
        assert due("land.resolution.accept", date(2026, 3, 2)) == date(2026, 3, 9)

    def test_art_236_thirty_days_to_complain_or_sue(self):
        assert rule("land.decision.challenge").party is Party.CITIZEN
        assert due("land.decision.challenge", date(2026, 3, 2)) == date(2026, 4, 1)

    def test_an_unknown_figure_gives_no_due_date(self):
        assert due("land.appeal.resolve", date(2026, 3, 2)) is None


class TestCatalogue:
    def test_every_rule_names_its_source_and_certainty(self):
        for each in rules_in(statutory_catalogue()):
            assert each.source
            assert each.summary
            assert each.certainty in Certainty
            if each.certainty is not Certainty.VERIFIED:
                assert each.note

    def test_a_province_overrides_a_figure_in_every_version(self):
        catalogue = statutory_catalogue().with_overrides(
            {"complaint.accept": {"normal": "5wd"}, "land.appeal.resolve": {"normal": "60d"}}
        )
        for version in catalogue.versions("complaint.accept"):
            assert version.period(Circumstances()) == Period(5, DayCount.WORKING)
        got = due_date(catalogue.rule("land.appeal.resolve", FIRST), date(2026, 3, 2), vietnam())
        assert got == date(2026, 5, 4)  # 60 days: Fri 1/5 is Labour Day, then a weekend

    def test_none_removes_a_due_date(self):
        catalogue = statutory_catalogue().with_overrides({"land.mediation": {"normal": "none"}})
        assert catalogue.rule("land.mediation", FIRST).period(Circumstances()) is None

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"complaint.nothing": {"normal": "5d"}}, "no statutory time limit"),
            ({"complaint.accept": {"remote": "5d"}}, "has no variant 'remote'"),
            ({"complaint.accept": {"normal": "five days"}}, "complaint.accept.normal"),
            ({"complaint.accept": {"normal": 7}}, "complaint.accept.normal"),
            ({"complaint.accept": "7wd"}, "expected {variant: period}"),
        ],
    )
    def test_a_bad_override_stops_start_up_with_its_name(self, overrides, message):
        with pytest.raises(ConfigurationError, match=message):
            statutory_catalogue().with_overrides(overrides)

    @PROPERTIES
    @given(
        key=st.sampled_from(statutory_catalogue().names()) | st.text(max_size=30),
        variant=st.sampled_from(["normal", "remote", "complex", "commune"]) | st.text(max_size=10),
        text=st.text(max_size=12),
    )
    def test_hostile_overrides_give_a_configuration_error_or_a_catalogue(self, key, variant, text):
        try:
            catalogue = statutory_catalogue().with_overrides({key: {variant: text}})
        except ConfigurationError:
            return
        assert catalogue.names() == statutory_catalogue().names()

    def test_no_two_versions_from_the_same_day(self):
        twice = rule("denunciation.resolve")
        with pytest.raises(ValueError, match="same day"):
            DeadlineCatalogue((twice, twice))

    def test_a_rule_needs_a_catch_all_variant(self):
        with pytest.raises(ValueError, match="every case"):
            DeadlineRule(
                key="x",
                summary="x",
                party=Party.AGENCY,
                variants=(Variant("remote", Period(1, DayCount.CALENDAR), remote_area=True),),
                source="x",
                certainty=Certainty.UNCERTAIN,
            )

    def test_no_version_before_the_first_one_in_force(self):
        late = DeadlineCatalogue((rule("complaint.accept", date(2026, 7, 1)),))
        with pytest.raises(KeyError, match="no version in force"):
            late.rule("complaint.accept", date(2026, 6, 30))


# ---------------------------------------------------------------- properties of the arithmetic

calendars = st.builds(
    WorkingCalendar,
    weekend=st.frozensets(st.integers(0, 6), max_size=6),
    holidays=st.frozensets(
        st.integers(0, 900).map(lambda n: FIRST + timedelta(days=n)), max_size=40
    ),
)
starts = st.integers(0, 365).map(lambda n: FIRST + timedelta(days=n))
periods = st.builds(Period, st.integers(0, 90), st.sampled_from(DayCount))


def pausable(period: Period, extensions: Extensions | None = None) -> DeadlineRule:
    return DeadlineRule(
        key="test",
        summary="test",
        party=Party.AGENCY,
        variants=(Variant("normal", period),),
        source="test",
        certainty=Certainty.UNCERTAIN,
        pausable=True,
        extensions=extensions,
    )


@st.composite
def pauses_after(draw, start: date) -> list[Pause]:
    found = []
    cursor = start
    for _ in range(draw(st.integers(0, 3))):
        begin = cursor + timedelta(days=draw(st.integers(0, 40)))
        end = begin + timedelta(days=draw(st.integers(0, 40)))
        found.append(Pause(begin, end))
        cursor = end
    return found


class TestArithmeticProperties:
    @PROPERTIES
    @given(calendar=calendars, start=starts, period=periods)
    def test_never_before_the_start_and_always_a_working_day(self, calendar, start, period):
        last = due_date(pausable(period), start, calendar)
        assert last >= start
        if period.days:
            assert last > start
            assert calendar.is_working_day(last)

    @PROPERTIES
    @given(calendar=calendars, start=starts, days=st.integers(0, 90))
    def test_calendar_days_end_on_day_n_or_the_next_working_day(self, calendar, start, days):
        last = due_date(pausable(Period(days, DayCount.CALENDAR)), start, calendar)
        raw = start + timedelta(days=days)
        assert last == calendar.next_working_day(raw)
        assert all(
            not calendar.is_working_day(raw + timedelta(n)) for n in range((last - raw).days)
        )

    @PROPERTIES
    @given(calendar=calendars, start=starts, days=st.integers(0, 90))
    def test_working_days_count_exactly_n(self, calendar, start, days):
        last = due_date(pausable(Period(days, DayCount.WORKING)), start, calendar)
        assert calendar.working_days_between(start, last) == days

    @PROPERTIES
    @given(calendar=calendars, start=starts, period=periods, more=st.integers(1, 30))
    def test_a_longer_period_never_ends_sooner(self, calendar, start, period, more):
        longer = Period(period.days + more, period.count)
        assert due_date(pausable(longer), start, calendar) >= due_date(
            pausable(period), start, calendar
        )

    @PROPERTIES
    @given(calendar=calendars, start=starts, period=periods, later=st.integers(1, 30))
    def test_a_later_start_never_ends_sooner(self, calendar, start, period, later):
        moved = start + timedelta(days=later)
        assert due_date(pausable(period), moved, calendar) >= due_date(
            pausable(period), start, calendar
        )

    @PROPERTIES
    @given(data=st.data(), calendar=calendars, start=starts, period=periods)
    def test_a_suspension_never_brings_the_limit_forward(self, data, calendar, start, period):
        pauses = data.draw(pauses_after(start))
        plain = due_date(pausable(period), start, calendar)
        paused = due_date(pausable(period), start, calendar, pauses=pauses)
        assert paused >= plain

    @PROPERTIES
    @given(start=starts, days=st.integers(1, 90), gap=st.integers(1, 40), length=st.integers(0, 40))
    def test_a_suspension_inside_the_limit_moves_it_by_its_length(self, start, days, gap, length):
        # Without weekends or holidays, calendar days shift by exactly the suspended days.
        every_day = WorkingCalendar(weekend=frozenset())
        assume(gap <= days)
        pause = Pause(start + timedelta(days=gap), start + timedelta(days=gap + length))
        period = Period(days, DayCount.CALENDAR)
        moved = due_date(pausable(period), start, every_day, pauses=[pause])
        assert moved == start + timedelta(days=days + length)

    @PROPERTIES
    @given(calendar=calendars, start=starts, period=periods, after=st.integers(1, 30))
    def test_a_suspension_after_the_limit_ran_out_changes_nothing(
        self, calendar, start, period, after
    ):
        plain = due_date(pausable(period), start, calendar)
        late = Pause(plain + timedelta(days=after), plain + timedelta(days=after + 10))
        assert due_date(pausable(period), start, calendar, pauses=[late]) == plain

    @PROPERTIES
    @given(
        calendar=calendars,
        start=starts,
        days=st.integers(0, 60),
        extensions=st.lists(st.integers(1, 30), max_size=2),
    )
    def test_each_extension_pushes_the_limit_by_its_days(self, calendar, start, days, extensions):
        extendable = pausable(
            Period(days, DayCount.CALENDAR),
            Extensions(30, ((Complexity.ESPECIALLY_COMPLEX, 2),)),
        )
        circumstances = Circumstances(complexity=Complexity.ESPECIALLY_COMPLEX)
        extended = due_date(extendable, start, calendar, circumstances, extensions=extensions)
        raw = start + timedelta(days=days + sum(extensions))
        assert extended == calendar.next_working_day(raw)

    @PROPERTIES
    @given(start=starts, period=periods)
    def test_a_rule_that_cannot_pause_refuses_pauses(self, start, period):
        fixed = DeadlineRule(
            key="fixed",
            summary="fixed",
            party=Party.CITIZEN,
            variants=(Variant("normal", period),),
            source="test",
            certainty=Certainty.UNCERTAIN,
        )
        with pytest.raises(ValueError, match="cannot be suspended"):
            due_date(fixed, start, WorkingCalendar(), pauses=[Pause(start, start)])
