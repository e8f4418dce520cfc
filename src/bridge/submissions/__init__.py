"""Citizens file a dossier in the chat: forms per procedure, answers checked, documents attached."""

from bridge.submissions.answers import Accepted, Refused, display_value, read_answer
from bridge.submissions.forms import (
    DocumentSpec,
    FieldSpec,
    Form,
    FormCatalogue,
    FormError,
    FormProblem,
    check_forms,
    load_forms,
)
from bridge.submissions.settings import SubmissionSettings

__all__ = [
    "Accepted",
    "DocumentSpec",
    "FieldSpec",
    "Form",
    "FormCatalogue",
    "FormError",
    "FormProblem",
    "Refused",
    "SubmissionSettings",
    "check_forms",
    "display_value",
    "load_forms",
    "read_answer",
]
