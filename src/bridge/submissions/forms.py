"""Forms: what each procedure asks for, read from YAML (package, then province) and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bridge.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from bridge.submissions.settings import SubmissionSettings

__all__ = [
    "ACCEPTED_TYPES",
    "Choice",
    "DocumentSpec",
    "FieldKind",
    "FieldSpec",
    "Form",
    "FormCatalogue",
    "FormError",
    "FormProblem",
    "check_forms",
    "load_forms",
]

PACKAGE_SOURCE = "package"
_FORM_FILE = re.compile(r"^form-(?P<code>[0-9A-Za-z._-]{1,60})\.ya?ml$")

FieldKind = Literal["text", "number", "date", "choice", "citizen_id", "phone", "address"]
"""What a field holds; each kind has its own check and its own correction prompt."""

ACCEPTED_TYPES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/webp", "application/pdf"}
)
"""Content types a document may accept (recognised by magic bytes, never by name)."""

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
ProcedureCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,60}$")]
Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Model):
    """One answer of a choice field: the value put in the event, the label the citizen reads."""

    value: Identifier
    label: Words


class FieldSpec(_Model):
    """One question of a form."""

    key: Identifier = Field(description="The field's name in the submission event.")
    kind: FieldKind
    label: Words = Field(description="Short name, shown in the summary.")
    prompt: Words = Field(description="The question asked in the chat (Vietnamese).")
    help: Words | None = Field(default=None, description="An example or a hint, under the prompt.")
    required: bool = True
    min_length: int | None = Field(default=None, ge=1, le=1_000)
    max_length: int | None = Field(default=None, ge=1, le=1_000)
    minimum: int | None = Field(default=None, description="Smallest number (kind number).")
    maximum: int | None = Field(default=None, description="Largest number (kind number).")
    not_in_future: bool = Field(default=False, description="A date no later than today.")
    choices: tuple[Choice, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "choice" and len(self.choices) < 2:  # noqa: PLR2004 - a choice of two
            raise ValueError("a choice field needs at least two choices")
        if self.kind != "choice" and self.choices:
            raise ValueError(f"choices are for choice fields, not {self.kind}")
        if len({choice.value for choice in self.choices}) != len(self.choices):
            raise ValueError("choice values must be unique")
        if self.kind not in {"text", "address"} and (self.min_length or self.max_length):
            raise ValueError(f"min_length and max_length are for text and address, not {self.kind}")
        if self.kind != "number" and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"minimum and maximum are for number fields, not {self.kind}")
        if self.kind != "date" and self.not_in_future:
            raise ValueError(f"not_in_future is for date fields, not {self.kind}")
        if self.min_length and self.max_length and self.min_length > self.max_length:
            raise ValueError("min_length is above max_length")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is above maximum")
        return self


class DocumentSpec(_Model):
    """One paper the citizen sends as photos or files."""

    key: Identifier = Field(description="The document's label in the submission event.")
    label: Words
    prompt: Words = Field(description="What to send, asked in the chat (Vietnamese).")
    help: Words | None = None
    required: bool = True
    accepted: tuple[str, ...] = Field(
        default=("image/jpeg", "image/png", "application/pdf"), min_length=1
    )
    max_count: int = Field(default=1, ge=1, le=10, description="Most photos or files for it.")
    max_bytes: int | None = Field(
        default=None,
        ge=1_024,
        description="Largest file; at most submissions.max_attachment_bytes.",
    )

    @model_validator(mode="after")
    def _known_types(self) -> Self:
        unknown = sorted(set(self.accepted) - ACCEPTED_TYPES)
        if unknown:
            raise ValueError(
                f"unknown types {', '.join(unknown)}; accepted: {', '.join(sorted(ACCEPTED_TYPES))}"
            )
        return self


class Form(_Model):
    """The form of one procedure, as the citizen fills it in the chat."""

    code: ProcedureCode = Field(description="The national procedure code (MaTTHC).")
    name: Words = Field(description="The procedure's name, as listed to the citizen.")
    enabled: bool = Field(default=True, description="false: a province withdraws a package form.")
    order: int = Field(default=100, ge=0, le=10_000, description="Place in the list.")
    fields: tuple[FieldSpec, ...] = Field(min_length=1, max_length=40)
    documents: tuple[DocumentSpec, ...] = Field(default=(), max_length=20)
    consent: Words = Field(
        default=(
            "Khi nhắn XAC NHAN, Ông/Bà đồng ý gửi các thông tin và giấy tờ trên tới Trung tâm "
            "Phục vụ hành chính công để giải quyết hồ sơ, và nhận thông báo về hồ sơ qua Zalo."
        ),
        description="What the citizen agrees to by confirming (shown with the summary).",
    )

    @model_validator(mode="after")
    def _unique_keys(self) -> Self:
        keys = [spec.key for spec in self.fields] + [spec.key for spec in self.documents]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"repeated field or document keys: {', '.join(repeated)}")
        return self

    def field(self, key: str) -> FieldSpec:
        """The field named ``key``."""
        return next(spec for spec in self.fields if spec.key == key)


@dataclass(frozen=True, slots=True)
class FormProblem:
    """One thing wrong with a form file: where it is and what is wrong."""

    file: str
    form: str
    field: str
    problem: str

    def __str__(self) -> str:
        """``file: form F, field K.attribute: problem``, as operators read it."""
        return f"{self.file}: form {self.form}, {self.field}: {self.problem}"


class FormError(ConfigurationError):
    """Forms that must not be used; the service refuses to start.

    Args:
        problems: Every problem found, each naming the file, the form and the field.
    """

    def __init__(self, problems: Sequence[FormProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n  ".join(str(problem) for problem in self.problems)
        super().__init__(f"invalid submission forms:\n  {lines}")


@dataclass(frozen=True, slots=True)
class FormCatalogue:
    """The forms citizens can fill, in the order they are listed, with the file each came from."""

    forms: tuple[Form, ...]
    sources: dict[str, str]

    def by_code(self, code: str) -> Form | None:
        """The enabled form of procedure ``code``."""
        return next((form for form in self.forms if form.code == code), None)

    def choose(self, answer: str) -> Form | None:
        """The form a citizen picked: its number in the list or its procedure code."""
        text = answer.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.forms):
            return self.forms[int(text) - 1]
        return self.by_code(text)


def _where(loc: Sequence[int | str], document: object) -> str:
    """The part of a form a pydantic error points at, its field named by key when possible."""
    if not loc:
        return "(form)"
    head = str(loc[0])
    if head in {"fields", "documents"} and len(loc) > 1 and isinstance(loc[1], int):
        key = f"#{loc[1] + 1}"
        items = document.get(head) if isinstance(document, dict) else None
        if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
            key = str(items[loc[1]].get("key", key))
        rest = "".join(f".{part}" for part in loc[2:])
        return f"{head[:-1]} {key}{rest}"
    return head


def _parse(text: str, source: str, code: str, problems: list[FormProblem]) -> Form | None:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(FormProblem(source, code, "(file)", f"not valid YAML: {exc}"))
        return None
    if not isinstance(document, dict):
        problems.append(FormProblem(source, code, "(file)", "expected a mapping"))
        return None
    try:
        form = Form.model_validate(document)
    except ValidationError as exc:
        problems.extend(
            FormProblem(source, code, _where(error["loc"], document), error["msg"])
            for error in exc.errors(include_url=False)
        )
        return None
    if form.code != code:
        problems.append(
            FormProblem(source, code, "code", f"{form.code!r} differs from the file's name")
        )
        return None
    return form


def _package_forms(problems: list[FormProblem]) -> dict[str, tuple[str, Form]]:
    found: dict[str, tuple[str, Form]] = {}
    folder = resources.files("bridge.submissions").joinpath("defaults")
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        match = _FORM_FILE.match(entry.name)
        if match is None:
            continue
        source = f"{PACKAGE_SOURCE}:{entry.name}"
        form = _parse(entry.read_text("utf-8"), source, match["code"], problems)
        if form is not None:
            found[form.code] = (source, form)
    return found


def _directory_forms(directory: Path, problems: list[FormProblem]) -> dict[str, tuple[str, Form]]:
    found: dict[str, tuple[str, Form]] = {}
    if not directory.is_dir():
        problems.append(FormProblem(str(directory), "(all)", "(directory)", "not a directory"))
        return found
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue  # ConfigMap mounts hold ..data and timestamped directories
        match = _FORM_FILE.match(path.name)
        if match is None:
            problems.append(
                FormProblem(str(path), "(file)", "(file)", "unexpected; expected form-<code>.yaml")
            )
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(FormProblem(str(path), match["code"], "(file)", str(exc)))
            continue
        form = _parse(text, str(path), match["code"], problems)
        if form is not None:
            found[form.code] = (str(path), form)
    return found


def _size_problems(
    forms: Iterable[tuple[str, Form]], max_attachment_bytes: int
) -> list[FormProblem]:
    return [
        FormProblem(
            source,
            form.code,
            f"document {spec.key}.max_bytes",
            f"{spec.max_bytes} is above submissions.max_attachment_bytes ({max_attachment_bytes})",
        )
        for source, form in forms
        for spec in form.documents
        if spec.max_bytes is not None and spec.max_bytes > max_attachment_bytes
    ]


def check_forms(
    directory: Path | None, *, max_attachment_bytes: int
) -> tuple[FormCatalogue, list[FormProblem]]:
    """Read the package's forms and the province's over them; every problem found, none raised.

    A province file replaces the package form of the same procedure code whole; ``enabled:
    false`` withdraws it.
    """
    problems: list[FormProblem] = []
    merged = _package_forms(problems)
    if directory is not None:
        merged.update(_directory_forms(directory, problems))
    problems.extend(_size_problems(merged.values(), max_attachment_bytes))
    enabled = sorted(
        (form for _, form in merged.values() if form.enabled),
        key=lambda form: (form.order, form.name, form.code),
    )
    if not enabled and not problems:
        problems.append(
            FormProblem(str(directory or PACKAGE_SOURCE), "(all)", "enabled", "no form is enabled")
        )
    catalogue = FormCatalogue(
        forms=tuple(enabled),
        sources={form.code: source for source, form in merged.values() if form.enabled},
    )
    return catalogue, problems


def load_forms(settings: SubmissionSettings) -> FormCatalogue:
    """The deployment's forms, or ``FormError`` naming every problem (the service won't start)."""
    catalogue, problems = check_forms(
        settings.forms_directory, max_attachment_bytes=settings.max_attachment_bytes
    )
    if problems:
        raise FormError(problems)
    return catalogue
