"""The case kinds, their states with official Vietnamese labels, and the transitions allowed.

Administrative procedures keep the ten national dossier states (``bridge.events.CaseState``).
Complaints (khiếu nại), denunciations (tố cáo) and land disputes (tranh chấp đất đai) get the
steps their laws set; docs/complaints-and-disputes.md is the commentary, article by article.
The labels are the laws' own names for the step or the document that marks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from bridge.events import CaseState

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "CaseKind",
    "ComplaintState",
    "DenunciationState",
    "LandDisputeState",
    "Lifecycle",
    "Notice",
    "StateSpec",
    "Step",
    "lifecycle",
]


class CaseKind(StrEnum):
    """What kind of case a dossier is."""

    ADMINISTRATIVE_PROCEDURE = "ADMINISTRATIVE_PROCEDURE"
    COMPLAINT = "COMPLAINT"
    DENUNCIATION = "DENUNCIATION"
    LAND_DISPUTE = "LAND_DISPUTE"

    @property
    def label(self) -> str:
        """The Vietnamese name of the kind."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    CaseKind.ADMINISTRATIVE_PROCEDURE: "Thủ tục hành chính",
    CaseKind.COMPLAINT: "Khiếu nại",
    CaseKind.DENUNCIATION: "Tố cáo",
    CaseKind.LAND_DISPUTE: "Tranh chấp đất đai",
}


class Step(StrEnum):
    """The part of the lifecycle a state belongs to (the same words for every kind)."""

    RECEIPT = "receipt"
    ACCEPTANCE = "acceptance"
    REFUSAL = "refusal"
    PROCESSING = "processing"
    VERIFICATION = "verification"
    DIALOGUE = "dialogue"
    MEDIATION = "mediation"
    SUSPENSION = "suspension"
    DECISION = "decision"
    APPEAL = "appeal"
    CLOSURE = "closure"


class Notice(StrEnum):
    """Whether the citizen is told of the state."""

    REQUIRED = "required"
    """The law requires the agency to tell the citizen (usually in writing)."""
    COURTESY = "courtesy"
    """Not required by the law; bridge tells the citizen by default."""
    NONE = "none"
    """Not told by default (internal step)."""


class ComplaintState(StrEnum):
    """Steps of an administrative complaint (Luật Khiếu nại 2011, Chapter III)."""

    RECEIVED = "RECEIVED"
    NOT_ACCEPTED = "NOT_ACCEPTED"
    ACCEPTED = "ACCEPTED"
    VERIFYING = "VERIFYING"
    DIALOGUE = "DIALOGUE"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    FIRST_DECISION = "FIRST_DECISION"
    SECOND_RECEIVED = "SECOND_RECEIVED"
    SECOND_ACCEPTED = "SECOND_ACCEPTED"
    SECOND_VERIFYING = "SECOND_VERIFYING"
    SECOND_DIALOGUE = "SECOND_DIALOGUE"
    SECOND_DECISION = "SECOND_DECISION"
    LAWSUIT_FILED = "LAWSUIT_FILED"
    DECISION_EFFECTIVE = "DECISION_EFFECTIVE"


class DenunciationState(StrEnum):
    """Steps of a denunciation (Luật Tố cáo 2018, Chapter III)."""

    RECEIVED = "RECEIVED"
    FORWARDED = "FORWARDED"
    NOT_ACCEPTED = "NOT_ACCEPTED"
    ACCEPTED = "ACCEPTED"
    VERIFYING = "VERIFYING"
    SUSPENDED = "SUSPENDED"
    TERMINATED = "TERMINATED"
    CONCLUDED = "CONCLUDED"
    CONCLUSION_HANDLED = "CONCLUSION_HANDLED"
    FURTHER_DENUNCIATION = "FURTHER_DENUNCIATION"
    RE_RESOLVING = "RE_RESOLVING"
    NOT_RE_RESOLVED = "NOT_RE_RESOLVED"
    CLOSED = "CLOSED"


class LandDisputeState(StrEnum):
    """Steps of a land dispute (Luật Đất đai 2024 Art. 235-236, NĐ 102/2024, NĐ 151/2025)."""

    MEDIATION_REQUESTED = "MEDIATION_REQUESTED"
    MEDIATION_NOT_ACCEPTED = "MEDIATION_NOT_ACCEPTED"
    MEDIATION_ACCEPTED = "MEDIATION_ACCEPTED"
    MEDIATION_VERIFYING = "MEDIATION_VERIFYING"
    MEDIATION_MEETING = "MEDIATION_MEETING"
    MEDIATION_SUCCEEDED = "MEDIATION_SUCCEEDED"
    MEDIATION_FAILED = "MEDIATION_FAILED"
    RESOLUTION_REQUESTED = "RESOLUTION_REQUESTED"
    RESOLUTION_NOT_ACCEPTED = "RESOLUTION_NOT_ACCEPTED"
    RESOLUTION_ACCEPTED = "RESOLUTION_ACCEPTED"
    RESOLUTION_VERIFYING = "RESOLUTION_VERIFYING"
    RESOLUTION_DECIDED = "RESOLUTION_DECIDED"
    APPEALED = "APPEALED"
    APPEAL_DECIDED = "APPEAL_DECIDED"
    LAWSUIT_FILED = "LAWSUIT_FILED"
    DECISION_EFFECTIVE = "DECISION_EFFECTIVE"


@dataclass(frozen=True, slots=True)
class StateSpec:
    """One state of one kind: its label, what the law says of it, and its clock.

    Args:
        name: The state's name in events (unique within its kind).
        label: The official Vietnamese name of the step or of the document that marks it.
        step: Which part of the lifecycle it is.
        source: The articles that set it.
        terminal: No state follows.
        notice: Whether the citizen is told.
        urgent: Sent even in quiet hours: it starts a limit the citizen must act within, or
            invites the citizen to a meeting on a date.
        deadline: Key of the time limit running while the case is in this state (``None``: no
            statutory limit).
        clock_from: The states whose latest entry starts that limit (empty: this state's).
        pauses_clock: Being in this state stops the clock (suspension).
    """

    name: str
    label: str
    step: Step
    source: str
    terminal: bool = False
    notice: Notice = Notice.COURTESY
    urgent: bool = False
    deadline: str | None = None
    clock_from: tuple[str, ...] = ()
    pauses_clock: bool = False

    def __post_init__(self) -> None:
        """Keep names as plain strings (callers may pass the kind's enum members)."""
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "clock_from", tuple(str(name) for name in self.clock_from))


@dataclass(frozen=True)
class Lifecycle:
    """The states of one kind and the moves between them.

    Producers differ: callers should log a move the lifecycle does not allow and carry on,
    not drop the event.
    """

    kind: CaseKind
    specs: tuple[StateSpec, ...]
    initial: frozenset[str]
    moves: Mapping[str, frozenset[str]]

    def __post_init__(self) -> None:
        """Refuse moves or clocks that name unknown states, and terminal states with moves."""
        names = {spec.name for spec in self.specs}
        if len(names) != len(self.specs):
            raise ValueError(f"{self.kind}: a state is declared twice")
        named = set(self.initial) | set(self.moves)
        named |= {target for targets in self.moves.values() for target in targets}
        named |= {anchor for spec in self.specs for anchor in spec.clock_from}
        if unknown := named - names:
            raise ValueError(f"{self.kind}: unknown states {sorted(unknown)}")
        for spec in self.specs:
            if spec.terminal and self.moves.get(spec.name):
                raise ValueError(f"{self.kind}: terminal state {spec.name} has moves")

    @property
    def states(self) -> tuple[str, ...]:
        """The state names, in lifecycle order."""
        return tuple(spec.name for spec in self.specs)

    def spec(self, name: str) -> StateSpec:
        """The state called ``name``.

        Raises:
            ValueError: The kind has no such state.
        """
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise ValueError(f"{self.kind.value} has no state {name!r}")

    def successors(self, name: str) -> frozenset[str]:
        """The states a case may move to from ``name``."""
        self.spec(name)
        return self.moves.get(name, frozenset())

    def allows(self, before: str | None, after: str) -> bool:
        """Whether a case may move from ``before`` (``None``: a new case) to ``after``."""
        if before is None:
            return after in self.initial
        return after in self.successors(before)

    def invalid_moves(self, path: Sequence[str]) -> list[tuple[str | None, str]]:
        """The moves of ``path`` (a new case's states in order) the lifecycle does not allow."""
        previous: Iterable[str | None] = (None, *path[:-1])
        return [(a, b) for a, b in zip(previous, path, strict=True) if not self.allows(a, b)]

    def terminal(self) -> frozenset[str]:
        """The states after which nothing follows."""
        return frozenset(spec.name for spec in self.specs if spec.terminal)

    def urgent(self) -> frozenset[str]:
        """The states sent even in quiet hours."""
        return frozenset(spec.name for spec in self.specs if spec.urgent)


def _moves(table: Mapping[StrEnum, Iterable[StrEnum]]) -> dict[str, frozenset[str]]:
    return {str(a): frozenset(str(b) for b in targets) for a, targets in table.items()}


# ---------------------------------------------------------------- administrative procedures

_ADMIN_URGENT = {
    CaseState.RESULT_READY,
    CaseState.SUPPLEMENT_REQUESTED,
    CaseState.PAYMENT_REQUESTED,
}
_ADMIN_STEPS = {
    CaseState.SUBMITTED: Step.RECEIPT,
    CaseState.RECEIVED: Step.ACCEPTANCE,
    CaseState.REJECTED_AT_INTAKE: Step.REFUSAL,
    CaseState.IN_PROGRESS: Step.PROCESSING,
    CaseState.SUPPLEMENT_REQUESTED: Step.SUSPENSION,
    CaseState.PAYMENT_REQUESTED: Step.SUSPENSION,
    CaseState.WITHDRAWAL_REQUESTED: Step.CLOSURE,
    CaseState.STOPPED: Step.CLOSURE,
    CaseState.RESULT_READY: Step.DECISION,
    CaseState.RESULT_RETURNED: Step.CLOSURE,
}
_ADMIN_TERMINAL = {CaseState.REJECTED_AT_INTAKE, CaseState.STOPPED, CaseState.RESULT_RETURNED}

_S = CaseState
_ADMIN_MOVES: dict[StrEnum, set[StrEnum]] = {
    _S.SUBMITTED: {_S.RECEIVED, _S.REJECTED_AT_INTAKE, _S.WITHDRAWAL_REQUESTED},
    _S.RECEIVED: {
        _S.IN_PROGRESS,
        _S.SUPPLEMENT_REQUESTED,
        _S.PAYMENT_REQUESTED,
        _S.RESULT_READY,
        _S.REJECTED_AT_INTAKE,
        _S.WITHDRAWAL_REQUESTED,
        _S.STOPPED,
    },
    _S.IN_PROGRESS: {
        _S.IN_PROGRESS,
        _S.SUPPLEMENT_REQUESTED,
        _S.PAYMENT_REQUESTED,
        _S.WITHDRAWAL_REQUESTED,
        _S.STOPPED,
        _S.RESULT_READY,
    },
    _S.SUPPLEMENT_REQUESTED: {_S.IN_PROGRESS, _S.RECEIVED, _S.STOPPED, _S.WITHDRAWAL_REQUESTED},
    _S.PAYMENT_REQUESTED: {_S.IN_PROGRESS, _S.RESULT_READY, _S.RESULT_RETURNED, _S.STOPPED},
    _S.WITHDRAWAL_REQUESTED: {
        _S.STOPPED,
        _S.SUBMITTED,
        _S.RECEIVED,
        _S.IN_PROGRESS,
        _S.SUPPLEMENT_REQUESTED,
        _S.PAYMENT_REQUESTED,
    },
    _S.RESULT_READY: {_S.RESULT_RETURNED, _S.PAYMENT_REQUESTED},
}


def _administrative() -> Lifecycle:
    specs = tuple(
        StateSpec(
            name=state.value,
            label=state.label,
            step=_ADMIN_STEPS[state],
            source=f"DVCQG TrangThaiHoSo {state.dvcqg_code} (one-stop-shop-domain §1.1, §7.1)",
            terminal=state in _ADMIN_TERMINAL,
            urgent=state in _ADMIN_URGENT,
        )
        for state in CaseState
    )
    return Lifecycle(
        kind=CaseKind.ADMINISTRATIVE_PROCEDURE,
        specs=specs,
        initial=frozenset({_S.SUBMITTED.value, _S.RECEIVED.value}),
        moves=_moves(_ADMIN_MOVES),
    )


# ---------------------------------------------------------------- complaints

_C = ComplaintState
_FIRST = (_C.ACCEPTED.value,)
_SECOND = (_C.SECOND_ACCEPTED.value,)


def _complaint() -> Lifecycle:
    specs = (
        StateSpec(
            _C.RECEIVED,
            "Tiếp nhận đơn khiếu nại",
            Step.RECEIPT,
            "LKN Art. 8; NĐ 124/2020 Art. 16(1)",
            deadline="complaint.accept",
        ),
        StateSpec(
            _C.NOT_ACCEPTED,
            "Không thụ lý giải quyết khiếu nại",
            Step.REFUSAL,
            "LKN Art. 11, 27, 36(1) (written notice with the reason)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _C.ACCEPTED,
            "Thụ lý giải quyết khiếu nại lần đầu",
            Step.ACCEPTANCE,
            "LKN Art. 27 (written notice), Art. 28",
            notice=Notice.REQUIRED,
            deadline="complaint.first_instance.resolve",
        ),
        StateSpec(
            _C.VERIFYING,
            "Xác minh nội dung khiếu nại",
            Step.VERIFICATION,
            "LKN Art. 29",
            deadline="complaint.first_instance.resolve",
            clock_from=_FIRST,
        ),
        StateSpec(
            _C.DIALOGUE,
            "Tổ chức đối thoại",
            Step.DIALOGUE,
            "LKN Art. 30; NĐ 124/2020 Art. 28 as replaced by NĐ 155/2026 Art. 11 (written "
            "notice at least 05 days ahead)",
            notice=Notice.REQUIRED,
            urgent=True,
            deadline="complaint.first_instance.resolve",
            clock_from=_FIRST,
        ),
        StateSpec(
            _C.SUSPENDED,
            "Tạm đình chỉ giải quyết khiếu nại",
            Step.SUSPENSION,
            "LKN Art. 11a (Law 136/2025); NĐ 124/2020 Art. 28a-28b (decision sent within 03 "
            "ngày làm việc; on resuming, quyết định tiếp tục giải quyết khiếu nại)",
            notice=Notice.REQUIRED,
            pauses_clock=True,
        ),
        StateSpec(
            _C.TERMINATED,
            "Đình chỉ giải quyết khiếu nại",
            Step.CLOSURE,
            "LKN Art. 10, 11a (Law 136/2025); NĐ 124/2020 Art. 7a, 28b",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _C.FIRST_DECISION,
            "Quyết định giải quyết khiếu nại lần đầu",
            Step.DECISION,
            "LKN Art. 31, 32 (sent within 03 ngày làm việc), 33",
            notice=Notice.REQUIRED,
            urgent=True,
            deadline="complaint.second_instance.file",
        ),
        StateSpec(
            _C.SECOND_RECEIVED,
            "Tiếp nhận đơn khiếu nại lần hai",
            Step.APPEAL,
            "LKN Art. 33(1), 36(1)",
            deadline="complaint.accept",
        ),
        StateSpec(
            _C.SECOND_ACCEPTED,
            "Thụ lý giải quyết khiếu nại lần hai",
            Step.ACCEPTANCE,
            "LKN Art. 36 (written notice), Art. 37",
            notice=Notice.REQUIRED,
            deadline="complaint.second_instance.resolve",
        ),
        StateSpec(
            _C.SECOND_VERIFYING,
            "Xác minh nội dung khiếu nại lần hai",
            Step.VERIFICATION,
            "LKN Art. 38",
            deadline="complaint.second_instance.resolve",
            clock_from=_SECOND,
        ),
        StateSpec(
            _C.SECOND_DIALOGUE,
            "Tổ chức đối thoại lần hai",
            Step.DIALOGUE,
            "LKN Art. 39; NĐ 124/2020 Art. 28(2) as replaced by NĐ 155/2026 (mandatory)",
            notice=Notice.REQUIRED,
            urgent=True,
            deadline="complaint.second_instance.resolve",
            clock_from=_SECOND,
        ),
        StateSpec(
            _C.SECOND_DECISION,
            "Quyết định giải quyết khiếu nại lần hai",
            Step.DECISION,
            "LKN Art. 40, 41 (sent within 07 ngày), 42, 44(2)",
            notice=Notice.REQUIRED,
            urgent=True,
            deadline="complaint.decision.effective",
        ),
        StateSpec(
            _C.LAWSUIT_FILED,
            "Khởi kiện vụ án hành chính",
            Step.APPEAL,
            "LKN Art. 7, 33(2), 42; a case the court accepted is no longer handled (Art. 11(9))",
            terminal=True,
        ),
        StateSpec(
            _C.DECISION_EFFECTIVE,
            "Quyết định giải quyết khiếu nại có hiệu lực pháp luật",
            Step.CLOSURE,
            "LKN Art. 44",
            terminal=True,
        ),
    )
    ends = {_C.SUSPENDED, _C.TERMINATED, _C.LAWSUIT_FILED}
    moves: dict[StrEnum, set[StrEnum]] = {
        _C.RECEIVED: {_C.ACCEPTED, _C.NOT_ACCEPTED, _C.TERMINATED},
        _C.ACCEPTED: {_C.VERIFYING, _C.DIALOGUE, _C.FIRST_DECISION, _C.SECOND_RECEIVED, *ends},
        _C.VERIFYING: {_C.DIALOGUE, _C.FIRST_DECISION, _C.SECOND_RECEIVED, *ends},
        _C.DIALOGUE: {_C.VERIFYING, _C.FIRST_DECISION, _C.SECOND_RECEIVED, *ends},
        _C.SUSPENDED: {
            _C.ACCEPTED,
            _C.VERIFYING,
            _C.DIALOGUE,
            _C.SECOND_ACCEPTED,
            _C.SECOND_VERIFYING,
            _C.SECOND_DIALOGUE,
            _C.TERMINATED,
            _C.LAWSUIT_FILED,
        },
        _C.FIRST_DECISION: {_C.SECOND_RECEIVED, _C.LAWSUIT_FILED, _C.DECISION_EFFECTIVE},
        _C.SECOND_RECEIVED: {_C.SECOND_ACCEPTED, _C.NOT_ACCEPTED, _C.TERMINATED},
        _C.SECOND_ACCEPTED: {_C.SECOND_VERIFYING, _C.SECOND_DIALOGUE, *ends},
        _C.SECOND_VERIFYING: {_C.SECOND_DIALOGUE, *ends},
        _C.SECOND_DIALOGUE: {_C.SECOND_VERIFYING, _C.SECOND_DECISION, *ends},
        _C.SECOND_DECISION: {_C.LAWSUIT_FILED, _C.DECISION_EFFECTIVE},
    }
    return Lifecycle(
        kind=CaseKind.COMPLAINT,
        specs=specs,
        initial=frozenset({_C.RECEIVED.value, _C.SECOND_RECEIVED.value}),
        moves=_moves(moves),
    )


# ---------------------------------------------------------------- denunciations

_D = DenunciationState
_RESOLVING = (_D.ACCEPTED.value, _D.RE_RESOLVING.value)


def _denunciation() -> Lifecycle:
    specs = (
        StateSpec(
            _D.RECEIVED,
            "Tiếp nhận tố cáo",
            Step.RECEIPT,
            "LTC Art. 22, 23, 24(1)",
            deadline="denunciation.initial_handling",
        ),
        StateSpec(
            _D.FORWARDED,
            "Chuyển đơn tố cáo đến cơ quan có thẩm quyền",
            Step.REFUSAL,
            "LTC Art. 24(2) (within 05 ngày làm việc, the denouncer told), Art. 9(1)(c)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _D.NOT_ACCEPTED,
            "Không thụ lý tố cáo",
            Step.REFUSAL,
            "LTC Art. 24(1) (the denouncer told at once, with the reason), Art. 9(1)(c)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _D.ACCEPTED,
            "Thụ lý tố cáo",
            Step.ACCEPTANCE,
            "LTC Art. 29 (quyết định thụ lý; the denouncer told within 05 ngày làm việc), 30",
            notice=Notice.REQUIRED,
            deadline="denunciation.resolve",
        ),
        StateSpec(
            _D.VERIFYING,
            "Xác minh nội dung tố cáo",
            Step.VERIFICATION,
            "LTC Art. 31",
            notice=Notice.NONE,
            deadline="denunciation.resolve",
            clock_from=_RESOLVING,
        ),
        StateSpec(
            _D.SUSPENDED,
            "Tạm đình chỉ việc giải quyết tố cáo",
            Step.SUSPENSION,
            "LTC Art. 34(1), (2) (time not counted), (4) (sent within 05 ngày làm việc); "
            "Art. 9(1)(c)",
            notice=Notice.REQUIRED,
            pauses_clock=True,
        ),
        StateSpec(
            _D.TERMINATED,
            "Đình chỉ việc giải quyết tố cáo",
            Step.CLOSURE,
            "LTC Art. 33, 34(3)-(4); Art. 9(1)(c)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _D.CONCLUDED,
            "Kết luận nội dung tố cáo",
            Step.DECISION,
            "LTC Art. 35 (the denouncer told within 05 ngày làm việc), Art. 9(1)(c)",
            notice=Notice.REQUIRED,
            deadline="denunciation.conclusion.handle",
        ),
        StateSpec(
            _D.CONCLUSION_HANDLED,
            "Xử lý kết luận nội dung tố cáo",
            Step.DECISION,
            "LTC Art. 36",
            notice=Notice.NONE,
        ),
        StateSpec(
            _D.FURTHER_DENUNCIATION,
            "Tố cáo tiếp",
            Step.APPEAL,
            "LTC Art. 9(1)(d), 37, 38",
            deadline="denunciation.further.review",
        ),
        StateSpec(
            _D.RE_RESOLVING,
            "Giải quyết lại vụ việc tố cáo",
            Step.ACCEPTANCE,
            "LTC Art. 37(2)(b)-(c); NĐ 31/2019 Art. 5(3) (the limit counts from the new "
            "quyết định thụ lý)",
            notice=Notice.REQUIRED,
            deadline="denunciation.resolve",
        ),
        StateSpec(
            _D.NOT_RE_RESOLVED,
            "Không giải quyết lại vụ việc tố cáo",
            Step.REFUSAL,
            "LTC Art. 37(2)(a) (written notice with the reason)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _D.CLOSED,
            "Kết thúc giải quyết tố cáo",
            Step.CLOSURE,
            "LTC Art. 28, 39",
            terminal=True,
            notice=Notice.NONE,
        ),
    )
    moves: dict[StrEnum, set[StrEnum]] = {
        _D.RECEIVED: {_D.ACCEPTED, _D.NOT_ACCEPTED, _D.FORWARDED},
        _D.ACCEPTED: {
            _D.VERIFYING,
            _D.CONCLUDED,
            _D.SUSPENDED,
            _D.TERMINATED,
            _D.FURTHER_DENUNCIATION,
        },
        _D.VERIFYING: {_D.CONCLUDED, _D.SUSPENDED, _D.TERMINATED, _D.FURTHER_DENUNCIATION},
        _D.SUSPENDED: {_D.ACCEPTED, _D.VERIFYING, _D.RE_RESOLVING, _D.TERMINATED},
        _D.CONCLUDED: {_D.CONCLUSION_HANDLED, _D.FURTHER_DENUNCIATION, _D.CLOSED},
        _D.CONCLUSION_HANDLED: {_D.FURTHER_DENUNCIATION, _D.CLOSED},
        _D.FURTHER_DENUNCIATION: {_D.RE_RESOLVING, _D.NOT_RE_RESOLVED, _D.FORWARDED},
        _D.RE_RESOLVING: {
            _D.VERIFYING,
            _D.CONCLUDED,
            _D.SUSPENDED,
            _D.TERMINATED,
            _D.FURTHER_DENUNCIATION,
        },
    }
    return Lifecycle(
        kind=CaseKind.DENUNCIATION,
        specs=specs,
        initial=frozenset({_D.RECEIVED.value, _D.FURTHER_DENUNCIATION.value}),
        moves=_moves(moves),
    )


# ---------------------------------------------------------------- land disputes

_L = LandDisputeState
_MEDIATION = (_L.MEDIATION_REQUESTED.value,)
_RESOLUTION = (_L.RESOLUTION_ACCEPTED.value,)


def _land_dispute() -> Lifecycle:
    specs = (
        StateSpec(
            _L.MEDIATION_REQUESTED,
            "Tiếp nhận đơn yêu cầu hòa giải tranh chấp đất đai",
            Step.RECEIPT,
            "LĐĐ Art. 235(2); NĐ 102/2024 Art. 105(1)(a)",
            deadline="land.mediation.accept",
        ),
        StateSpec(
            _L.MEDIATION_NOT_ACCEPTED,
            "Không thụ lý đơn yêu cầu hòa giải tranh chấp đất đai",
            Step.REFUSAL,
            "NĐ 102/2024 Art. 105(1)(a) (written notice with the reason)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _L.MEDIATION_ACCEPTED,
            "Thụ lý đơn yêu cầu hòa giải tranh chấp đất đai",
            Step.ACCEPTANCE,
            "NĐ 102/2024 Art. 105(1)(a) (written notice); LĐĐ Art. 235(2)(c)",
            notice=Notice.REQUIRED,
            deadline="land.mediation",
            clock_from=_MEDIATION,
        ),
        StateSpec(
            _L.MEDIATION_VERIFYING,
            "Xem xét, xác minh nguyên nhân tranh chấp",
            Step.VERIFICATION,
            "NĐ 102/2024 Art. 105(1)(b)",
            notice=Notice.NONE,
            deadline="land.mediation",
            clock_from=_MEDIATION,
        ),
        StateSpec(
            _L.MEDIATION_MEETING,
            "Tổ chức cuộc họp hòa giải",
            Step.MEDIATION,
            "LĐĐ Art. 235(2)(a)-(b); NĐ 102/2024 Art. 105(1)(c)-(d) (all parties present; a "
            "second absence makes the mediation fail)",
            notice=Notice.REQUIRED,
            urgent=True,
            deadline="land.mediation",
            clock_from=_MEDIATION,
        ),
        StateSpec(
            _L.MEDIATION_SUCCEEDED,
            "Hòa giải thành",
            Step.CLOSURE,
            "LĐĐ Art. 235(2); NĐ 102/2024 Art. 105(2)-(3) (minutes sent to the parties)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _L.MEDIATION_FAILED,
            "Hòa giải không thành",
            Step.DECISION,
            "LĐĐ Art. 235(2), 236; NĐ 102/2024 Art. 105(4) (the parties told where to go next)",
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _L.RESOLUTION_REQUESTED,
            "Tiếp nhận đơn yêu cầu giải quyết tranh chấp đất đai",
            Step.RECEIPT,
            "LĐĐ Art. 236(2)(a), (3); NĐ 151/2025 Appendix I Part VIII",
            deadline="land.resolution.accept",
        ),
        StateSpec(
            _L.RESOLUTION_NOT_ACCEPTED,
            "Không thụ lý đơn yêu cầu giải quyết tranh chấp đất đai",
            Step.REFUSAL,
            "NĐ 151/2025 Appendix I Part VIII (written notice with the reason)",
            terminal=True,
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _L.RESOLUTION_ACCEPTED,
            "Thụ lý đơn yêu cầu giải quyết tranh chấp đất đai",
            Step.ACCEPTANCE,
            "NĐ 151/2025 Appendix I Part VIII (written notice within 05 ngày làm việc)",
            notice=Notice.REQUIRED,
            deadline="land.resolution",
        ),
        StateSpec(
            _L.RESOLUTION_VERIFYING,
            "Thẩm tra, xác minh, hòa giải giữa các bên tranh chấp",
            Step.VERIFICATION,
            "NĐ 151/2025 Appendix I Part VIII",
            notice=Notice.NONE,
            deadline="land.resolution",
            clock_from=_RESOLUTION,
        ),
        StateSpec(
            _L.RESOLUTION_DECIDED,
            "Quyết định giải quyết tranh chấp đất đai",
            Step.DECISION,
            "LĐĐ Art. 236(3); NĐ 151/2025 Art. 5(2)(g) (the commune chair replaces the district "
            "chair from 1 July 2025)",
            notice=Notice.REQUIRED,
            urgent=True,
            deadline="land.decision.challenge",
        ),
        StateSpec(
            _L.APPEALED,
            "Khiếu nại quyết định giải quyết tranh chấp đất đai",
            Step.APPEAL,
            "LĐĐ Art. 236(3)(a)-(b)",
            deadline="land.appeal.resolve",
        ),
        StateSpec(
            _L.APPEAL_DECIDED,
            "Quyết định giải quyết khiếu nại về tranh chấp đất đai",
            Step.DECISION,
            "LĐĐ Art. 236(3)(a)-(b) (in force on issue)",
            notice=Notice.REQUIRED,
        ),
        StateSpec(
            _L.LAWSUIT_FILED,
            "Khởi kiện tại Tòa án",
            Step.APPEAL,
            "LĐĐ Art. 236(1), (2)(b), (3)",
            terminal=True,
        ),
        StateSpec(
            _L.DECISION_EFFECTIVE,
            "Quyết định giải quyết tranh chấp đất đai có hiệu lực thi hành",
            Step.CLOSURE,
            "LĐĐ Art. 236(3)",
            terminal=True,
        ),
    )
    moves: dict[StrEnum, set[StrEnum]] = {
        _L.MEDIATION_REQUESTED: {_L.MEDIATION_ACCEPTED, _L.MEDIATION_NOT_ACCEPTED},
        _L.MEDIATION_ACCEPTED: {_L.MEDIATION_VERIFYING, _L.MEDIATION_MEETING},
        _L.MEDIATION_VERIFYING: {_L.MEDIATION_MEETING},
        _L.MEDIATION_MEETING: {
            _L.MEDIATION_MEETING,
            _L.MEDIATION_SUCCEEDED,
            _L.MEDIATION_FAILED,
        },
        _L.MEDIATION_FAILED: {_L.RESOLUTION_REQUESTED, _L.LAWSUIT_FILED},
        _L.RESOLUTION_REQUESTED: {_L.RESOLUTION_ACCEPTED, _L.RESOLUTION_NOT_ACCEPTED},
        _L.RESOLUTION_ACCEPTED: {_L.RESOLUTION_VERIFYING, _L.RESOLUTION_DECIDED},
        _L.RESOLUTION_VERIFYING: {_L.RESOLUTION_DECIDED},
        _L.RESOLUTION_DECIDED: {_L.APPEALED, _L.LAWSUIT_FILED, _L.DECISION_EFFECTIVE},
        _L.APPEALED: {_L.APPEAL_DECIDED},
        _L.APPEAL_DECIDED: {_L.DECISION_EFFECTIVE, _L.LAWSUIT_FILED},
    }
    return Lifecycle(
        kind=CaseKind.LAND_DISPUTE,
        specs=specs,
        initial=frozenset({_L.MEDIATION_REQUESTED.value, _L.RESOLUTION_REQUESTED.value}),
        moves=_moves(moves),
    )


_BUILDERS = {
    CaseKind.ADMINISTRATIVE_PROCEDURE: _administrative,
    CaseKind.COMPLAINT: _complaint,
    CaseKind.DENUNCIATION: _denunciation,
    CaseKind.LAND_DISPUTE: _land_dispute,
}


@cache
def lifecycle(kind: CaseKind) -> Lifecycle:
    """The lifecycle of ``kind``."""
    return _BUILDERS[kind]()
