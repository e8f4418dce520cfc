"""Uploads (part 2 §1) and the attachment messages that use them (part 2 §1.5, -100)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bridge_devkit.emulator import DEV_ACCESS_TOKEN, media

HEADERS = {"access_token": DEV_ACCESS_TOKEN}
DAY = 86_400


async def _upload(client, kind, name, data, content_type="application/octet-stream"):
    files = {"file": (name, data, content_type)}
    return await client.post(f"/v2.0/oa/upload/{kind}", files=files, headers=HEADERS)


def _image_message(user_id, attachment_id, media_type="image"):
    element = {"media_type": media_type, "attachment_id": attachment_id}
    if media_type == "gif":
        element |= {"width": 120, "height": 120}
    return {
        "recipient": {"user_id": user_id},
        "message": {
            "text": "Kết quả",
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            },
        },
    }


def _file_message(user_id, token):
    return {
        "recipient": {"user_id": user_id},
        "message": {"attachment": {"type": "file", "payload": {"token": token}}},
    }


class TestUploadEndpoints:
    async def test_image_answers_an_attachment_id(self, client):
        answer = (await _upload(client, "image", "cccd.jpg", media.jpeg(64, 64))).json()

        assert answer["error"] == 0
        assert set(answer["data"]) == {"attachment_id"}

    async def test_file_answers_a_token_and_keeps_the_bytes(self, client):
        data = media.pdf("ket qua", size=2000)
        answer = (await _upload(client, "file", "ket-qua.pdf", data, "application/pdf")).json()

        token = answer["data"]["token"]
        uploads = (await client.get("/_emulator/uploads")).json()["uploads"]
        assert [(u["asset_id"], u["size"], u["status"]) for u in uploads] == [
            (token, 2000, "valid")
        ]
        content = await client.get("/_emulator/uploads/content", params={"asset_id": token})
        assert content.content == data

    @pytest.mark.parametrize(
        ("kind", "name", "data"),
        [
            ("image", "a.pdf", media.pdf()),  # a type the endpoint does not take
            ("image", "a.jpg", media.pdf()),  # a name that lies about its type
            ("file", "a.jpg", media.jpeg(8, 8)),
            ("file", "a.pdf", b""),  # empty
        ],
        ids=["wrong-type", "lying-name", "image-as-file", "empty"],
    )
    async def test_bad_files_are_201(self, client, kind, name, data):
        answer = (await _upload(client, kind, name, data)).json()

        assert answer == {"error": -201, "message": "file is invalid!"}

    async def test_a_missing_file_part_is_201(self, client):
        response = await client.post(
            "/v2.0/oa/upload/file", files={"other": ("a.pdf", media.pdf())}, headers=HEADERS
        )

        assert response.json()["error"] == -201

    @pytest.mark.parametrize(
        ("kind", "name", "size"), [("image", "a.png", 1_048_577), ("file", "a.pdf", 5_242_881)]
    )
    async def test_over_the_limit_is_210(self, client, kind, name, size):
        data = media.png(8, 8) if kind == "image" else media.pdf(size=size)
        data = data.ljust(size, b"\0") if kind == "image" else data

        answer = (await _upload(client, kind, name, data)).json()

        assert answer["error"] == -210

    async def test_a_name_without_extension_gets_empty_data(self, client):
        answer = (await _upload(client, "file", "ketqua", media.pdf())).json()

        assert answer == {"data": {}, "error": 0, "message": "Success"}

    async def test_the_limits_are_settings(self, client):
        await client.put(
            "/_emulator/uploads/config",
            json={"image_max_bytes": 100, "file_response_key": "both", "no_extension": "reject"},
        )

        assert (await _upload(client, "image", "a.jpg", media.jpeg(64, 64))).json()["error"] == -210
        both = (await _upload(client, "file", "a.pdf", media.pdf())).json()["data"]
        assert both["token"] == both["attachment_id"]
        assert (await _upload(client, "file", "a", media.pdf())).json()["error"] == -201

    async def test_a_bad_token_is_216(self, client):
        files = {"file": ("a.pdf", media.pdf(), "application/pdf")}
        response = await client.post(
            "/v2.0/oa/upload/file", files=files, headers={"access_token": "nope"}
        )

        assert response.json()["error"] == -216

    async def test_the_monthly_quota_gives_211(self, client):
        await client.put("/_emulator/uploads/config", json={"monthly_quota": 1})

        assert (await _upload(client, "file", "a.pdf", media.pdf())).json()["error"] == 0
        assert (await _upload(client, "file", "b.pdf", media.pdf())).json()["error"] == -211


class TestAttachmentMessages:
    async def test_a_file_message_with_an_issued_token_is_accepted(
        self, client, send, follower_id, messages
    ):
        token = (await _upload(client, "file", "kq.pdf", media.pdf())).json()["data"]["token"]

        answer = (await send(body=_file_message(follower_id, token))).json()

        assert answer["error"] == 0
        [record] = await messages()
        assert (record["attachment"], record["asset_id"]) == ("file", token)

    async def test_an_image_message_with_an_issued_id_is_accepted(self, client, send, follower_id):
        data = (await _upload(client, "image", "a.png", media.png(8, 8))).json()["data"]

        answer = await send(body=_image_message(follower_id, data["attachment_id"]))

        assert answer.json()["error"] == 0

    async def test_a_token_never_issued_is_201(self, send, follower_id):
        answer = (await send(body=_file_message(follower_id, "never-issued"))).json()

        assert answer == {
            "error": -201,
            "message": "message.attachment.payload.token is invalid!",
        }

    async def test_an_image_id_is_not_a_file_token(self, client, send, follower_id):
        data = (await _upload(client, "image", "a.png", media.png(8, 8))).json()["data"]

        answer = (await send(body=_file_message(follower_id, data["attachment_id"]))).json()

        assert answer["error"] == -201

    async def test_an_expired_token_is_100(self, client, send, follower_id, clock):
        token = (await _upload(client, "file", "kq.pdf", media.pdf())).json()["data"]["token"]
        await client.put("/_emulator/followers", json=[{"user_id": follower_id}])
        clock.advance(7 * DAY)

        answer = (await send(body=_file_message(follower_id, token))).json()

        assert answer == {"error": -100, "message": "attachment_id was expired"}

    async def test_expire_now_through_the_admin_api(self, client, send, follower_id):
        token = (await _upload(client, "file", "kq.pdf", media.pdf())).json()["data"]["token"]

        await client.post("/_emulator/uploads/expire", json={"asset_id": token})

        assert (await send(body=_file_message(follower_id, token))).json()["error"] == -100

    async def test_the_interaction_window_applies(self, client, send, follower_id, clock):
        token = (await _upload(client, "file", "kq.pdf", media.pdf())).json()["data"]["token"]
        clock.advance(7 * DAY - 1800)  # the interaction is 7 days 30 min old, the token is not

        answer = (await send(body=_file_message(follower_id, token))).json()

        assert answer["error"] == -230

    async def test_the_read_back_shows_the_file_with_a_url(self, client, send, follower_id):
        data = media.pdf()
        token = (await _upload(client, "file", "kq.pdf", data)).json()["data"]["token"]
        await send(body=_file_message(follower_id, token))

        query = {"data": f'{{"user_id":"{follower_id}","offset":0,"count":10}}'}
        [item] = (await client.get("/v2.0/oa/conversation", params=query, headers=HEADERS)).json()[
            "data"
        ]

        assert item["type"] == "file"
        assert (await client.get(item["url"])).content == data
        # Part 2 §4.2: from the OA to the citizen, at the send's time; a file has no caption.
        [sent] = (await client.get("/_emulator/messages")).json()["messages"]
        assert (item["src"], item["to_id"], item["message_id"]) == (
            0,
            follower_id,
            sent["message_id"],
        )
        assert isinstance(item["time"], int)
        assert str(item["time"]) == sent["sent_time"]
        assert item["message"] == ""
        assert "description" not in item

    async def test_the_read_back_shows_an_uploaded_image_with_its_caption(
        self, client, send, follower_id
    ):
        data = media.jpeg(64, 64)
        answer = (await _upload(client, "image", "anh.jpg", data, "image/jpeg")).json()
        await send(body=_image_message(follower_id, answer["data"]["attachment_id"]))

        query = {"data": f'{{"user_id":"{follower_id}","offset":0,"count":10}}'}
        [item] = (await client.get("/v2.0/oa/conversation", params=query, headers=HEADERS)).json()[
            "data"
        ]

        assert (item["type"], item["src"], item["to_id"]) == ("photo", 0, follower_id)
        assert (item["message"], item["description"]) == ("Kết quả", "Kết quả")
        assert (await client.get(item["url"])).content == data
        assert item["thumb"]


class TestGeneratedMedia:
    def test_the_jpeg_decodes_and_carries_gps(self):
        image = Image.open(io.BytesIO(media.jpeg(320, 240, exif_gps=True)))
        image.load()

        assert image.size == (320, 240)
        gps = image.getexif().get_ifd(0x8825)
        assert (gps[1], gps[3]) == ("N", "E")

    def test_the_png_bomb_trips_a_pixel_limit(self):
        bomb = media.png_bomb()

        assert len(bomb) < 200_000
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(bomb))

    @pytest.mark.parametrize("size", [0, 2_000_000])
    def test_the_pdf_has_the_asked_size(self, size):
        data = media.pdf(size=size)

        assert media.sniff(data) == "pdf"
        assert len(data) >= size
        assert size == 0 or len(data) == size

    @pytest.mark.parametrize(
        ("data", "kind"),
        [
            (media.jpeg(8, 8), "jpg"),
            (media.png(8, 8), "png"),
            (media.gif(), "gif"),
            (media.docx(), "docx"),
            (b"hello", None),
        ],
    )
    def test_sniff(self, data, kind):
        assert media.sniff(data) == kind
