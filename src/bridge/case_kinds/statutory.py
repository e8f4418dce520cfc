"""The statutory time limits of complaints, denunciations and land disputes, with their sources.

Every figure is explained, with its certainty, in docs/complaints-and-disputes.md. Abbreviations:
LKN = Luật Khiếu nại 02/2011/QH13; LTC = Luật Tố cáo 25/2018/QH14; LĐĐ = Luật Đất đai
31/2024/QH15; both LKN and LTC were amended by Law 136/2025/QH15 (in force 1 July 2026), whose
consolidated text we could not read: figures read only in the older text are ``PRE_AMENDMENT``.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from bridge.case_kinds.deadlines import (
    Certainty,
    Complexity,
    DayCount,
    DeadlineCatalogue,
    DeadlineRule,
    Extensions,
    Level,
    Party,
    Period,
    Variant,
)

__all__ = ["TWO_TIER_GOVERNMENT", "statutory_catalogue"]

TWO_TIER_GOVERNMENT = date(2025, 7, 1)
"""Districts abolished; their land-dispute powers pass to the commune chair (NĐ 151/2025)."""

_AMENDMENT_IN_FORCE = date(2026, 7, 1)
"""Law 136/2025/QH15 and its decrees NĐ 155/2026 (complaints), 156/2026 (denunciations)."""

_COMPLEX = frozenset({Complexity.COMPLEX, Complexity.ESPECIALLY_COMPLEX})
_AMENDMENT_NOTE = (
    "Law 136/2025/QH15 amended this law from 1 July 2026; the summaries of it we could read "
    "(Báo Lao Động quoting the Government Inspectorate, Đại biểu Nhân dân, kienthuc.net.vn) list "
    "no change to this figure, but the amended text itself was not read: UNCERTAIN, configurable."
)


def _days(n: int) -> Period:
    return Period(n, DayCount.CALENDAR)


def _working(n: int) -> Period:
    return Period(n, DayCount.WORKING)


def _by_area_and_complexity(
    normal: int, complex_: int, remote: int, remote_complex: int
) -> tuple[Variant, ...]:
    return (
        Variant("remote_complex", _days(remote_complex), complexity=_COMPLEX, remote_area=True),
        Variant("remote", _days(remote), remote_area=True),
        Variant("complex", _days(complex_), complexity=_COMPLEX),
        Variant("normal", _days(normal)),
    )


def _complaint_rules() -> tuple[DeadlineRule, ...]:
    return (
        DeadlineRule(
            key="complaint.accept",
            summary="Accept the complaint for handling (thụ lý), or refuse it in writing with "
            "the reason; first and second instance alike.",
            party=Party.AGENCY,
            variants=(Variant("normal", _days(10)),),
            source="LKN Art. 27 (first instance), Art. 36(1) (second instance)",
            certainty=Certainty.VERIFIED,
            note="Complaints received before 1 July 2026. The law says 10 ngày; the guidance of "
            "the time (TT 07/2013/TT-TTCP Art. 5(1)) said 10 ngày làm việc.",
        ),
        DeadlineRule(
            key="complaint.accept",
            summary="Accept the complaint for handling (thụ lý), or refuse it in writing with "
            "the reason; first and second instance alike.",
            party=Party.AGENCY,
            variants=(Variant("normal", _working(7)),),
            source="NĐ 124/2020/NĐ-CP Art. 16(1) as replaced by NĐ 155/2026/NĐ-CP Art. 10",
            certainty=Certainty.VERIFIED,
            note="Complaints received from 1 July 2026 (the decree implementing Law 136/2025). "
            "Whether LKN Art. 27 and 36 themselves now say 07 ngày làm việc is UNCERTAIN; the "
            "decree, in force and stricter, is what officials apply.",
            effective_from=_AMENDMENT_IN_FORCE,
        ),
        DeadlineRule(
            key="complaint.first_instance.resolve",
            summary="Issue the first-instance decision (quyết định giải quyết khiếu nại lần đầu).",
            party=Party.AGENCY,
            variants=_by_area_and_complexity(30, 45, 45, 60),
            source="LKN Art. 28; complexity: NĐ 124/2020 Art. 3a (added by NĐ 155/2026 Art. 2); "
            "suspension: LKN Art. 11a (added by Law 136/2025), NĐ 124/2020 Art. 28b",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE,
            pausable=True,
        ),
        DeadlineRule(
            key="complaint.second_instance.file",
            summary="Complain a second time, or sue at the administrative court, counted from "
            "receiving the first decision (or from the end of the first-instance limit).",
            party=Party.CITIZEN,
            variants=(
                Variant("remote", _days(45), remote_area=True),
                Variant("normal", _days(30)),
            ),
            source="LKN Art. 33(1)-(2)",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE + " The clock runs from receipt; bridge counts from the day "
            "the event says the decision was issued.",
        ),
        DeadlineRule(
            key="complaint.second_instance.resolve",
            summary="Issue the second-instance decision (quyết định giải quyết khiếu nại lần hai).",
            party=Party.AGENCY,
            variants=_by_area_and_complexity(45, 60, 60, 70),
            source="LKN Art. 37; suspension: LKN Art. 11a, NĐ 124/2020 Art. 28b",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE,
            pausable=True,
        ),
        DeadlineRule(
            key="complaint.decision.effective",
            summary="The second-instance decision takes legal effect (the right to sue remains).",
            party=Party.EFFECT,
            variants=(
                Variant("remote", _days(45), remote_area=True),
                Variant("normal", _days(30)),
            ),
            source="LKN Art. 44(2)",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE,
        ),
    )


def _denunciation_rules() -> tuple[DeadlineRule, ...]:
    return (
        DeadlineRule(
            key="denunciation.initial_handling",
            summary="Register, classify and check the denunciation and its sender, then accept "
            "it (quyết định thụ lý), refuse it, or forward it (05 ngày làm việc if not "
            "competent).",
            party=Party.AGENCY,
            variants=(
                Variant("several_locations", _working(10), several_locations=True),
                Variant("normal", _working(7)),
            ),
            source="LTC Art. 24(1)-(2)",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE,
        ),
        DeadlineRule(
            key="denunciation.resolve",
            summary="Conclude the content of the denunciation (kết luận nội dung tố cáo).",
            party=Party.AGENCY,
            variants=(Variant("normal", _days(30)),),
            source="LTC Art. 30; complexity and extension form: NĐ 31/2019/NĐ-CP Art. 3; "
            "suspension: LTC Art. 34(2)",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE + " A complex case may be extended once, an especially "
            "complex one twice, by up to 30 days each, by written decision.",
            pausable=True,
            extensions=Extensions(
                max_days_each=30,
                max_count=((Complexity.COMPLEX, 1), (Complexity.ESPECIALLY_COMPLEX, 2)),
            ),
        ),
        DeadlineRule(
            key="denunciation.conclusion.handle",
            summary="Act on the conclusion: restore the accused's rights, or sanction or refer "
            "the violation.",
            party=Party.AGENCY,
            variants=(Variant("normal", _working(7)),),
            source="LTC Art. 36(1)",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE,
        ),
        DeadlineRule(
            key="denunciation.further.review",
            summary="The superior reviews a further denunciation (tố cáo tiếp): refuses to "
            "re-resolve with reasons, takes it over, or re-resolves.",
            party=Party.AGENCY,
            variants=(Variant("normal", _days(20)),),
            source="LTC Art. 37(2)",
            certainty=Certainty.PRE_AMENDMENT,
            note=_AMENDMENT_NOTE,
        ),
    )


def _land_rules() -> tuple[DeadlineRule, ...]:
    return (
        DeadlineRule(
            key="land.mediation.accept",
            summary="Tell the parties in writing that the mediation request is accepted, or "
            "refused with the reason.",
            party=Party.AGENCY,
            variants=(Variant("normal", _working(3)),),
            source="NĐ 102/2024/NĐ-CP Art. 105(1)(a)",
            certainty=Certainty.UNCERTAIN,
            note="Quoted alike by Báo Lao Động, LawNet and the ministry's procedure (QĐ "
            "2304/QĐ-BNNMT); the decree text itself was not read.",
        ),
        DeadlineRule(
            key="land.mediation",
            summary="Mediate at the commune People's Committee (hòa giải tại UBND cấp xã), "
            "counted from receipt of the request.",
            party=Party.AGENCY,
            variants=(Variant("normal", _days(30)),),
            source="LĐĐ Art. 235(2)(c)",
            certainty=Certainty.UNCERTAIN,
            note="Quoted from the law by Báo Lao Động and LawNet; no remote-area extension in "
            "the quoted text, though one provincial catalogue says 45 days there.",
        ),
        DeadlineRule(
            key="land.resolution.accept",
            summary="Tell the parties in writing that the resolution request is accepted, or "
            "refused with the reason.",
            party=Party.AGENCY,
            variants=(Variant("normal", _working(5)),),
            source="NĐ 151/2025/NĐ-CP Appendix I, Part VIII, section I",
            certainty=Certainty.UNCERTAIN,
            note="Quoted by Báo Lao Động and the ministry's procedure; the decree text itself "
            "was not read.",
        ),
        DeadlineRule(
            key="land.resolution",
            summary="The People's Committee chair decides the dispute (quyết định giải quyết "
            "tranh chấp đất đai), counted from acceptance.",
            party=Party.AGENCY,
            variants=(
                Variant("province_remote", _days(60), level=Level.PROVINCE, remote_area=True),
                Variant("province", _days(50), level=Level.PROVINCE),
                Variant("commune_remote", _days(55), remote_area=True),
                Variant("commune", _days(45)),
            ),
            source="NĐ 151/2025/NĐ-CP Appendix I, Part VIII (commune chair 45 days, province "
            "chair 50, +10 in mountain, border, island and hardship areas)",
            certainty=Certainty.VERIFIED,
            note="As the ministry's newspaper (Nông nghiệp và Môi trường, 9 Oct 2025) quotes the "
            "decree. A case of unknown level is counted as a commune case.",
        ),
        DeadlineRule(
            key="land.decision.challenge",
            summary="Complain against the decision (to the province chair, or to the minister "
            "for a province chair's decision) or sue at the court.",
            party=Party.CITIZEN,
            variants=(Variant("normal", _days(30)),),
            source="LĐĐ Art. 236(3)(a)-(b); NĐ 151/2025 Art. 5(2)(g) (commune chair instead of "
            "district chair)",
            certainty=Certainty.UNCERTAIN,
            note="Quoted by LawNet and CafeLand; the law text itself was not read.",
        ),
        DeadlineRule(
            key="land.appeal.resolve",
            summary="Decide the complaint against a land-dispute decision.",
            party=Party.AGENCY,
            variants=(Variant("normal", None),),
            source="LĐĐ Art. 236(3); no time limit found",
            certainty=Certainty.UNCERTAIN,
            note="No figure was found in a source we could read; configure one to count it.",
        ),
    )


@cache
def statutory_catalogue() -> DeadlineCatalogue:
    """The default time limits: the laws' figures as read (see the module docstring)."""
    return DeadlineCatalogue(_complaint_rules() + _denunciation_rules() + _land_rules())
