"""Body validation of the emulated send endpoint: -201 naming the field, -210 over a limit."""

from __future__ import annotations

import pytest

from bridge_devkit.emulator import DEV_ACCESS_TOKEN
from bridge_devkit.emulator.media import pdf
from bridge_devkit.emulator.validation import CsMessage, Violation, validate_cs_body

USER = "2512523625412515"
TOO_LONG = {"error": -210, "message": "Parameter exceeds allowable limit"}


def invalid(field: str) -> dict[str, object]:
    return {"error": -201, "message": f"{field} is invalid!"}


def cs(message: object, recipient: object = None) -> dict[str, object]:
    return {"recipient": {"user_id": USER} if recipient is None else recipient, "message": message}


def media(**element: object) -> dict[str, object]:
    return {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "media", "elements": [element]},
        }
    }


IMAGE = {"media_type": "image", "url": "https://example.gov.vn/a.png"}


class TestMalformedBody:
    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            pytest.param([], invalid("body"), id="array-body"),
            pytest.param("text", invalid("body"), id="string-body"),
            pytest.param({}, invalid("recipient"), id="empty-object"),
            pytest.param({"message": {"text": "x"}}, invalid("recipient"), id="no-recipient"),
            pytest.param(
                cs({"text": "x"}, recipient={}), invalid("recipient.user_id"), id="no-uid"
            ),
            pytest.param(
                cs({"text": "x"}, recipient={"user_id": 2512523625412515}),
                invalid("recipient.user_id"),
                id="numeric-uid",
            ),
            pytest.param(
                cs({"text": "x"}, recipient={"user_id": ""}),
                invalid("recipient.user_id"),
                id="empty-uid",
            ),
            pytest.param({"recipient": {"user_id": USER}}, invalid("message"), id="no-message"),
            pytest.param(cs("hello"), invalid("message"), id="message-not-object"),
            pytest.param(cs({}), invalid("message.text"), id="no-text"),
            pytest.param(cs({"text": ""}), invalid("message.text"), id="empty-text"),
            pytest.param(cs({"text": "  \n"}), invalid("message.text"), id="blank-text"),
            pytest.param(cs({"text": 42}), invalid("message.text"), id="text-not-string"),
            pytest.param(cs({"text": "x" * 2001}), TOO_LONG, id="text-2001"),
            pytest.param(
                cs({"text": "x", "quote_message_id": 5}),
                invalid("message.quote_message_id"),
                id="bad-quote",
            ),
            pytest.param(
                cs({"attachment": "x"}), invalid("message.attachment"), id="attachment-string"
            ),
            pytest.param(
                cs({"attachment": {"type": "video", "payload": {}}}),
                invalid("message.attachment.type"),
                id="attachment-type",
            ),
            pytest.param(
                cs({"attachment": {"type": "file"}}),
                invalid("message.attachment.payload"),
                id="no-payload",
            ),
            pytest.param(
                cs({"attachment": {"type": "file", "payload": {}}}),
                invalid("message.attachment.payload.token"),
                id="file-without-token",
            ),
            pytest.param(
                cs({"attachment": {"type": "template", "payload": {}}}),
                invalid("message.attachment.payload.template_type"),
                id="no-template-type",
            ),
            pytest.param(
                cs(media(media_type="video", url="https://x")),
                invalid("message.attachment.payload.elements.media_type"),
                id="media-type",
            ),
            pytest.param(
                cs(media(media_type="image", url="https://x", attachment_id="abc")),
                invalid("message.attachment.payload.elements.url"),
                id="url-and-attachment-id",
            ),
            pytest.param(
                cs(media(media_type="image")),
                invalid("message.attachment.payload.elements.url"),
                id="no-image-source",
            ),
            pytest.param(
                cs({"attachment": {"type": "template", "payload": {"template_type": "media"}}}),
                invalid("message.attachment.payload.elements"),
                id="no-elements",
            ),
            pytest.param(
                cs(
                    {
                        "attachment": {
                            "type": "template",
                            "payload": {"template_type": "media", "elements": [IMAGE, IMAGE]},
                        }
                    }
                ),
                invalid("message.attachment.payload.elements"),  # exactly one: part 2 §1.5
                id="two-elements",
            ),
            pytest.param(
                cs(
                    {
                        "attachment": {
                            "type": "template",
                            "payload": {"template_type": "transaction_order", "elements": []},
                        }
                    }
                ),
                {"error": -233, "message": "message type is invalid or not support"},
                id="transaction-template-on-cs",
            ),
            pytest.param(
                cs({"text": "x" * 2001, **media(**IMAGE)}), TOO_LONG, id="caption-too-long"
            ),
        ],
    )
    async def test_is_refused_with_zalo_error_and_http_200(self, send, body, expected):
        response = await send(body=body)

        assert response.status_code == 200
        assert response.json() == expected

    @pytest.mark.parametrize(
        "content",
        [b"", b"not json", b'{"recipient":', b"\xff\xfe"],
        ids=["empty", "text", "cut", "binary"],
    )
    async def test_non_json_body_is_minus_201(self, send, content):
        response = await send(content=content)

        assert response.status_code == 200
        assert response.json() == invalid("body")

    async def test_non_json_body_is_logged_raw(self, send, messages):
        await send(content=b"not json")

        [record] = await messages(status="rejected")
        assert record["body"] is None
        assert record["raw_body"] == "not json"
        assert record["error"] == -201

    async def test_body_is_checked_before_the_follower(self, send):
        response = await send(body=cs({"text": ""}, recipient={"user_id": "stranger"}))

        assert response.json() == invalid("message.text")


class TestAcceptedShapes:
    async def test_text_of_exactly_2000_characters_is_accepted(self, send):
        response = await send("ồ" * 2000)

        assert response.json()["error"] == 0

    async def test_limit_counts_code_points_not_bytes(self, send):
        text = "Hồ sơ đã được tiếp nhận. " * 80  # 2000 code points, more UTF-8 bytes
        assert len(text) == 2000

        response = await send(text)

        assert response.json()["error"] == 0

    async def test_image_attachment_is_accepted_and_recorded(self, send, messages):
        body = cs({"text": "Kết quả", **media(**IMAGE)})

        response = await send(body=body)

        assert response.json()["error"] == 0
        [record] = await messages()
        assert record["body"] == body
        assert record["text"] == "Kết quả"

    async def test_file_attachment_without_text_is_accepted(self, send, messages, client):
        files = {"file": ("ket-qua.pdf", pdf(), "application/pdf")}
        uploaded = await client.post(
            "/v2.0/oa/upload/file", files=files, headers={"access_token": DEV_ACCESS_TOKEN}
        )
        token = uploaded.json()["data"]["token"]
        body = cs({"attachment": {"type": "file", "payload": {"token": token}}})

        response = await send(body=body)

        assert response.json()["error"] == 0
        [record] = await messages()
        assert record["text"] is None

    async def test_request_user_info_is_accepted(self, send):
        element = {"title": "UBND tỉnh", "subtitle": "Đang yêu cầu", "image_url": "https://x"}
        body = cs(
            {
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "request_user_info", "elements": [element]},
                }
            }
        )

        assert (await send(body=body)).json()["error"] == 0

    async def test_text_limit_is_configurable(self, send, client):
        await client.put("/_emulator/config", json={"max_text_length": 10})

        assert (await send("x" * 10)).json()["error"] == 0
        assert (await send("x" * 11)).json() == TOO_LONG


class TestValidateCsBody:
    def test_returns_the_recipient_and_text(self):
        assert validate_cs_body(cs({"text": "x"}), max_text_length=5) == CsMessage(USER, "x")

    def test_returns_a_violation_naming_the_field(self):
        result = validate_cs_body(cs({"text": 1}), max_text_length=5)

        assert result == Violation(-201, "message.text is invalid!")
