"""The feedback section of the settings: when to ask, what, where answers go, how long kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bridge.events import CaseState

__all__ = ["FeedbackSettings"]


class FeedbackSettings(BaseModel):
    """``BRIDGE_FEEDBACK__…``: the satisfaction survey asked when a dossier is done.

    Off by default: a province turns it on once it has chosen its question and the national
    index item it reports against (docs/feedback.md).
    """

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(default=False, description="Ask citizens to rate finished dossiers.")
    topic: str = Field(
        default="citizen-feedback",
        min_length=1,
        description="Where each answer goes as a citizen-feedback.v1 event.",
    )
    final_states: tuple[str, ...] = Field(
        default=("RESULT_RETURNED",),
        min_length=1,
        description="Case states (CaseState names) after which the survey is asked.",
    )
    delay_seconds: float = Field(
        default=3_600.0,
        ge=0,
        le=30 * 86_400,
        description="How long after the final state the question is asked.",
    )
    answer_window_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 7,
        description="How long an asked survey takes answers; later ones are ordinary texts.",
    )
    comment_minutes: float = Field(
        default=30.0,
        ge=0,
        le=24 * 60,
        description="How long the reason for an unhappy rating is awaited (0: not asked).",
    )
    buttons: bool = Field(
        default=True,
        description=(
            "Put oa.query.show buttons (Rất hài lòng, Hài lòng, Chưa hài lòng) under the "
            "question. UNCERTAIN whether Zalo shows buttons on CS messages everywhere: typed "
            "answers always work."
        ),
    )
    question: str = Field(
        default=(
            "Hồ sơ {case_code} ({procedure_name}) đã hoàn tất. Ông/Bà có hài lòng với việc "
            "giải quyết hồ sơ tại {agency_name} không?"
        ),
        min_length=1,
        max_length=600,
        description="The question; {case_code}, {procedure_name}, {agency_name} are filled in.",
    )
    criterion: str = Field(
        default="hai_long_chung",
        min_length=1,
        description="The criterion code put in each event (the province's own list).",
    )
    index_item: str = Field(
        default="Mức độ hài lòng của người dân, doanh nghiệp (Quyết định 766/QĐ-TTg)",
        min_length=1,
        description="The national index item the criterion is reported against (docs only).",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description=(
            "The key of the citizens' pseudonyms in feedback events (HMAC-SHA-256); unset: the "
            "linking HMAC key. A secret."
        ),
    )
    retention_days: int = Field(
        default=730,
        ge=30,
        le=3_650,
        description="Surveys (answers included) are deleted this long after they were planned.",
    )
    poll_seconds: float = Field(default=5.0, gt=0, le=300)

    @field_validator("final_states")
    @classmethod
    def _known_states(cls, states: tuple[str, ...]) -> tuple[str, ...]:
        known = {state.value for state in CaseState}
        unknown = sorted(set(states) - known)
        if unknown:
            raise ValueError(f"not case states: {', '.join(unknown)}; known: {sorted(known)}")
        return states

    @field_validator("question")
    @classmethod
    def _fills_known_fields(cls, question: str) -> str:
        try:
            question.format_map({"case_code": "", "procedure_name": "", "agency_name": ""})
        except (KeyError, ValueError, IndexError) as exc:
            raise ValueError(
                "only {case_code}, {procedure_name} and {agency_name} can be filled in"
            ) from exc
        return question

    lease_seconds: float = Field(default=60.0, gt=0, le=3_600)
    batch: int = Field(default=50, ge=1, le=1_000)
