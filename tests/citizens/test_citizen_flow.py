"""The whole citizen journey on the real broker, the emulator and the webhook over real HTTP.

follow → code + second factor → linked → case event → message in the chat → lookup → HUY →
the next event sends nothing to that citizen.
"""

from __future__ import annotations

import asyncio

import pytest

from bridge.app import create_app
from bridge.citizens.second_factor import receipt_secret
from bridge.citizens.settings import LinkingSettings, RetentionSettings
from bridge.webhook.settings import WebhookSettings
from citizens_support import APP_ID, HMAC_KEY, OA_SECRET, chat, oa_event, serve, wait_for_chat
from support import OTHER_USER, read_topic

pytestmark = pytest.mark.kafka

CITIZEN = "7700112233445566"
CODE = "000.20.31.H56-260310-0042"
PHONE = "0912345678"


def case_event(make_event, sequence, state, recipient):
    return make_event(
        sequence=sequence,
        state=state,
        case={"code": CODE},
        recipient={"zalo_user_id": recipient, "phone": PHONE, "notify_consent": True},
    )


@pytest.mark.parametrize("factor", ["receipt_secret", "phone_last4"])
async def test_follow_link_notify_lookup_unsubscribe(
    factor, bridge_settings, emulator, publish, make_event, encode, kafka_bootstrap, topics
):
    settings = bridge_settings.model_copy(
        update={
            "webhook": WebhookSettings(app_id=APP_ID, oa_secret_key=OA_SECRET),
            "linking": LinkingSettings(second_factor=factor, hmac_key=HMAC_KEY),
            "retention": RetentionSettings(purge_interval_seconds=0),
        }
    )
    admin = emulator.http
    proof = receipt_secret(HMAC_KEY, CODE) if factor == "receipt_secret" else PHONE[-4:]
    async with create_app(settings) as app, serve(app) as base_url:
        hook = {"url": base_url + settings.webhook.path}
        (await admin.put("/_emulator/webhook", json=hook)).raise_for_status()

        # The dossier is received; the one-stop shop names another recipient.
        await publish(encode(case_event(make_event, 1, "RECEIVED", OTHER_USER)), key=CODE)
        assert len(await read_topic(kafka_bootstrap, topics.status, 1)) == 1

        # The citizen scans the receipt's QR code and follows the OA.
        await oa_event(admin, event_name="follow", user_id=CITIZEN)
        [welcome] = await wait_for_chat(admin, CITIZEN, 1)
        assert "mã hồ sơ" in welcome

        # The code alone is not enough; with the second factor the link is made.
        await oa_event(admin, event_name="user_send_text", user_id=CITIZEN, text=CODE.lower())
        asked = await wait_for_chat(admin, CITIZEN, 2)
        assert f"xác nhận Ông/Bà là người nộp hồ sơ {CODE}" in asked[-1]
        text = f"{CODE} {proof}"
        await oa_event(admin, event_name="user_send_text", user_id=CITIZEN, text=text)
        linked = await wait_for_chat(admin, CITIZEN, 3)
        assert "đã đăng ký nhận thông báo về hồ sơ" in linked[-1]
        assert "• Trạng thái: Được tiếp nhận" in linked[-1]

        # The next case event reaches the citizen's chat because she linked the dossier: the
        # event itself names another user (who gets it too).
        await publish(encode(case_event(make_event, 2, "IN_PROGRESS", OTHER_USER)), key=CODE)
        notified = await wait_for_chat(admin, CITIZEN, 4)
        assert "đã được chuyển cho cán bộ chuyên môn xử lý" in notified[-1]
        assert len(await read_topic(kafka_bootstrap, topics.status, 2)) == 2

        # "Tra cứu" answers from the latest state.
        await oa_event(admin, event_name="user_send_text", user_id=CITIZEN, text="Tra cứu")
        looked_up = await wait_for_chat(admin, CITIZEN, 5)
        assert looked_up[-1].startswith(f"Thông tin hồ sơ {CODE}:")
        assert "• Trạng thái: Đang xử lý" in looked_up[-1]
        assert "• Ngày hẹn trả kết quả: 13/03/2026" in looked_up[-1]

        # HUY stops the notifications of this dossier.
        huy = f"Hủy {CODE}"
        await oa_event(admin, event_name="user_send_text", user_id=CITIZEN, text=huy)
        stopped = await wait_for_chat(admin, CITIZEN, 6)
        assert "đã ngừng nhận thông báo về hồ sơ" in stopped[-1]

        await publish(encode(case_event(make_event, 3, "RESULT_READY", OTHER_USER)), key=CODE)
        assert len(await read_topic(kafka_bootstrap, topics.status, 3)) == 3
        await asyncio.sleep(0.5)
        assert len(await chat(admin, CITIZEN)) == 6
        assert any("đã có kết quả" in t for t in await chat(admin, OTHER_USER))
