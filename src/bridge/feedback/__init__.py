"""The satisfaction survey: asked in the chat when a dossier is done, answers as events."""

from bridge.feedback.answers import Level, Rating, StopSurveys, parse_answer
from bridge.feedback.contract import CitizenFeedback, feedback_json_schema
from bridge.feedback.publisher import FeedbackPublishError, KafkaFeedback
from bridge.feedback.service import SurveyService
from bridge.feedback.settings import FeedbackSettings
from bridge.feedback.store import SurveyStore

__all__ = [
    "CitizenFeedback",
    "FeedbackPublishError",
    "FeedbackSettings",
    "KafkaFeedback",
    "Level",
    "Rating",
    "StopSurveys",
    "SurveyService",
    "SurveyStore",
    "feedback_json_schema",
    "parse_answer",
]
