"""Government announcements: the contract, the store, the audience and the fan-out to citizens."""

from bridge.announcements.audience import Audience
from bridge.announcements.consumer import register_announcement_consumer
from bridge.announcements.contract import announcement_json_schema
from bridge.announcements.intake import AnnouncementIntake
from bridge.announcements.metrics import watch_announcements
from bridge.announcements.service import AnnouncementService
from bridge.announcements.settings import AnnouncementsConfig, AnnouncementSettings
from bridge.announcements.store import AnnouncementStore, Progress

__all__ = [
    "AnnouncementIntake",
    "AnnouncementService",
    "AnnouncementSettings",
    "AnnouncementStore",
    "AnnouncementsConfig",
    "Audience",
    "Progress",
    "announcement_json_schema",
    "register_announcement_consumer",
    "watch_announcements",
]
