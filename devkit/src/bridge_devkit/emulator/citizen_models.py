"""The scripted citizen's script (`POST /_emulator/scripts`, `zalo-oa-emulator citizen run`).

A script is a user and a list of steps, each an object with `do` naming what the citizen does:

* `follow` (`source`), `unfollow`;
* `text` (`text`), and `confirm` (a `text` that defaults to "XAC NHAN");
* `image`, `gif`, `file`, `link`, `location`, `sticker`, `audio`, `video`, `business_card`
  (`attachment`, `caption`): the matching `user_send_*` event;
* `tap` (`title`, `index` or `payload`; `message_id`): taps a button of the OA's newest message
  with buttons (or of that message);
* `submit_info` (`info`, `info_shape`, `force`): shares her info after a `request_user_info`;
* `expect_reply` (`contains`, `matches`, `type`, `has_buttons`, `timeout_s`): waits for a new
  accepted OA message to her that fits;
* `sleep` (`seconds`, real time).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge_devkit.emulator.access_admin_models import AttachmentIn

__all__ = [
    "ExpectReplyStep",
    "FollowStep",
    "ScriptIn",
    "SendStep",
    "SleepStep",
    "Step",
    "SubmitInfoStep",
    "TapStep",
    "TextStep",
    "UnfollowStep",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FollowStep(_Strict):
    """She follows the OA (a `follow` event)."""

    do: Literal["follow"]
    source: str = "oa_profile"


class UnfollowStep(_Strict):
    """She unfollows the OA."""

    do: Literal["unfollow"]


class TextStep(_Strict):
    """She types a text (`confirm`: "XAC NHAN" unless another text is given)."""

    do: Literal["text", "confirm"]
    text: str | None = Field(default=None, min_length=1)

    def resolved_text(self) -> str:
        """The text to send."""
        if self.text is not None:
            return self.text
        if self.do == "confirm":
            return "XAC NHAN"
        raise ValueError("a text step needs a text")


SEND_KINDS = (
    "image",
    "gif",
    "file",
    "link",
    "location",
    "sticker",
    "audio",
    "video",
    "business_card",
)


class SendStep(_Strict):
    """She sends a photo, a file, a link… (`user_send_<do>`); a file is made if none is given."""

    do: Literal[
        "image", "gif", "file", "link", "location", "sticker", "audio", "video", "business_card"
    ]
    attachment: AttachmentIn = Field(default_factory=AttachmentIn)
    caption: str | None = Field(default=None, min_length=1)


class TapStep(_Strict):
    """She taps a button (by title, index or payload; the first one if none is given)."""

    do: Literal["tap"]
    title: str | None = None
    index: int | None = Field(default=None, ge=0)
    payload: str | None = None
    message_id: str | None = None


class SubmitInfoStep(_Strict):
    """She shares her info (`user_submit_info`) after the OA's `request_user_info`."""

    do: Literal["submit_info"]
    info: dict[str, str] = Field(default_factory=dict)
    info_shape: Literal["flat", "full_address"] = "flat"
    force: bool = False


class ExpectReplyStep(_Strict):
    """She waits for an OA message to her, newer than the last one she matched."""

    do: Literal["expect_reply"]
    contains: str | None = Field(default=None, description="A substring of the text (NFC).")
    matches: str | None = Field(default=None, description="A regular expression (search).")
    type: (
        Literal[
            "text",
            "image",
            "gif",
            "sticker",
            "file",
            "request_user_info",
            "list",
            "buttons",
            "template",
        ]
        | None
    ) = Field(default=None, description="The attachment kind (`text`: none).")
    has_buttons: bool | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=600)


class SleepStep(_Strict):
    """She waits (real time)."""

    do: Literal["sleep"]
    seconds: float = Field(ge=0, le=600)


Step = Annotated[
    FollowStep
    | UnfollowStep
    | TextStep
    | SendStep
    | TapStep
    | SubmitInfoStep
    | ExpectReplyStep
    | SleepStep,
    Field(discriminator="do"),
]
"""One step of a script."""


class ScriptIn(_Strict):
    """A scripted citizen: who she is and what she does, in order."""

    user_id: str = Field(min_length=1)
    display_name: str = ""
    steps: list[Step] = Field(min_length=1)
    step_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="Default wait of an expect_reply."
    )
    timeout_s: float = Field(default=300.0, gt=0, le=3600, description="The whole script.")
    require_delivery: bool = Field(
        default=False, description="Fail a step whose event the webhook did not take (HTTP 200)."
    )
    wait: bool = Field(default=False, description="Answer only when the script has ended.")
