"""Webhook requests: the signature formulas of zalo-oa-api.md §7.2, freshness, payloads."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.webhook.events import (
    SignatureKeys,
    WebhookRejectedError,
    check_age,
    parse_oa_event,
    verify_signature,
)
from bridge_devkit.emulator.webhook import compact_json, signature

APP_ID, OA_ID = "3066521851012345678", "1646843870823903717"
OA_SECRET, APP_SECRET = "oa-secret", "app-secret"
TS = "1796032830000"
TEXT_EVENT = {
    "app_id": APP_ID,
    "sender": {"id": "2512523625412515"},
    "recipient": {"id": OA_ID},
    "user_id_by_app": "3611371994410983884",
    "event_name": "user_send_text",
    "message": {"text": "Hủy 000.20.31.H56-260310-0042", "msg_id": "e2a641af6661713b2874"},
    "timestamp": TS,
}


def keys(variant="app_id_oa_secret_key"):
    return SignatureKeys(APP_ID, OA_ID, OA_SECRET, APP_SECRET, variant=variant)


def signed(payload, first=APP_ID, secret=OA_SECRET, prefix="mac="):
    raw = compact_json(payload)
    return raw.encode(), prefix + signature(first, raw, payload["timestamp"], secret)


class TestSignature:
    def test_the_emulators_default_formula_is_accepted(self):
        raw, header = signed(TEXT_EVENT)
        assert verify_signature(raw, header, keys()) == "app_id_oa_secret_key"

    def test_without_the_mac_prefix_and_in_upper_case(self):
        raw, header = signed(TEXT_EVENT, prefix="")
        assert verify_signature(raw, header.upper(), keys()) == "app_id_oa_secret_key"

    @pytest.mark.parametrize(
        ("first", "secret", "variant"),
        [
            (OA_ID, OA_SECRET, "oa_id_oa_secret_key"),
            (APP_ID, APP_SECRET, "app_id_app_secret"),
            (OA_ID, APP_SECRET, "oa_id_app_secret"),
        ],
    )
    def test_each_variant_and_any(self, first, secret, variant):
        raw, header = signed(TEXT_EVENT, first=first, secret=secret)
        assert verify_signature(raw, header, keys(variant)) == variant
        assert verify_signature(raw, header, keys("any")) == variant
        with pytest.raises(WebhookRejectedError) as refused:
            verify_signature(raw, header, keys())
        assert refused.value.status == 401

    def test_a_changed_body_is_refused(self):
        raw, header = signed(TEXT_EVENT)
        tampered = raw.replace(b"0042", b"0043")
        with pytest.raises(WebhookRejectedError, match="does not match"):
            verify_signature(tampered, header, keys())

    def test_a_missing_signature_is_refused(self):
        raw, _ = signed(TEXT_EVENT)
        with pytest.raises(WebhookRejectedError, match="no signature"):
            verify_signature(raw, None, keys())

    @pytest.mark.parametrize("raw", [b"not json", b"[1]", b'{"event_name": "follow"}'])
    def test_a_body_without_a_timestamp_is_a_bad_request(self, raw):
        with pytest.raises(WebhookRejectedError) as refused:
            verify_signature(raw, "mac=00", keys())
        assert refused.value.status == 400


class TestAge:
    def test_fresh_events_pass(self):
        raw = json.dumps(TEXT_EVENT).encode()
        assert check_age(raw, now=int(TS) / 1000 + 299, max_age=300) == int(TS) / 1000

    @pytest.mark.parametrize("offset", [301, -301])
    def test_old_or_future_events_are_refused(self, offset):
        raw = json.dumps(TEXT_EVENT).encode()
        with pytest.raises(WebhookRejectedError) as refused:
            check_age(raw, now=int(TS) / 1000 + offset, max_age=300)
        assert refused.value.status == 403

    def test_zero_turns_the_check_off(self):
        raw = json.dumps(TEXT_EVENT).encode()
        check_age(raw, now=int(TS) / 1000 + 10**6, max_age=0)


class TestParse:
    def test_user_text(self):
        event = parse_oa_event(json.dumps(TEXT_EVENT).encode())
        assert event.name == "user_send_text"
        assert event.user_id == "2512523625412515"
        assert event.text == TEXT_EVENT["message"]["text"]
        assert event.dedupe_key == "msg:e2a641af6661713b2874"
        assert event.at == int(TS) / 1000

    def test_follow_names_the_follower(self):
        follow = {
            "oa_id": OA_ID,
            "follower": {"id": "24684588352919792"},
            "event_name": "follow",
            "source": "oa_profile",
            "app_id": APP_ID,
            "timestamp": "154397978274",
        }
        event = parse_oa_event(json.dumps(follow).encode())
        assert (event.name, event.user_id) == ("follow", "24684588352919792")
        assert event.dedupe_key == "follow:24684588352919792:154397978274"

    @pytest.mark.parametrize("phone", ["84912345678", "+84912345678", "0912345678"])
    def test_a_zns_receipt_names_a_phone_never_as_a_user(self, phone):
        received = {
            "app_id": APP_ID,
            "sender": {"id": OA_ID},
            "recipient": {"id": phone},
            "event_name": "user_received_message",
            "message": {"msg_ids": ["zns-1"]},
            "timestamp": TS,
        }
        event = parse_oa_event(json.dumps(received).encode())
        assert event.user_id is None
        assert event.phone == phone
        assert event.message_ids == ("zns-1",)
        without_ids = {**received, "message": {}}
        keyed = parse_oa_event(json.dumps(without_ids).encode()).dedupe_key
        assert phone.lstrip("+") not in keyed

    def test_receipts_name_the_recipient_and_the_messages(self):
        seen = {
            "app_id": APP_ID,
            "sender": {"id": OA_ID},
            "recipient": {"id": "2512523625412515"},
            "event_name": "user_seen_message",
            "message": {"msg_ids": ["aa", "bb"]},
            "timestamp": TS,
        }
        event = parse_oa_event(json.dumps(seen).encode())
        assert event.user_id == "2512523625412515"
        assert event.message_ids == ("aa", "bb")
        assert event.dedupe_key == "user_seen_message:aa,bb"


class TestAttachments:
    def event(self, name, attachments):
        return json.dumps(
            {
                "event_name": name,
                "sender": {"id": "2512523625412515"},
                "recipient": {"id": "oa"},
                "message": {"msg_id": "m1", "attachments": attachments},
                "timestamp": "1700000000000",
            }
        ).encode()

    def test_photos_and_files_are_read_with_their_hints(self):
        raw = self.event(
            "user_send_file",
            [
                {
                    "type": "file",
                    "payload": {"url": "https://f.zdn.vn/a.pdf", "name": "a.pdf", "size": "2339"},
                },
                {"type": "image", "payload": {"url": "https://f.zdn.vn/b.jpg", "thumbnail": "x"}},
            ],
        )
        event = parse_oa_event(raw)
        assert [(a.kind, a.url, a.name, a.size) for a in event.attachments] == [
            ("file", "https://f.zdn.vn/a.pdf", "a.pdf", 2339),
            ("image", "https://f.zdn.vn/b.jpg", None, None),
        ]

    @pytest.mark.parametrize(
        "attachments",
        [
            None,
            "not a list",
            [{"type": "sticker", "payload": {"url": "https://x/y"}}],
            [{"type": "image", "payload": {"url": "file:///etc/passwd"}}],
            [{"type": "image", "payload": {"url": 42}}],
            [{"type": "image", "payload": "https://x/y"}],
            [{"type": "file", "payload": {"url": "https://x/" + "a" * 3000}}],
        ],
    )
    def test_anything_else_is_left_out(self, attachments):
        event = parse_oa_event(self.event("user_send_image", attachments))
        assert event.attachments == ()
        assert event.dedupe_key == "msg:m1"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_URLS = st.sampled_from(
    ["https://f.zdn.vn/a.jpg", "http://127.0.0.1/x", "file:///etc/passwd", "javascript:x", ""]
) | st.text(max_size=40)
_ATTACHMENT = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["image", "file", "sticker", "gif", "link"]) | _JSON,
        "payload": st.fixed_dictionaries(
            {},
            optional={
                "url": _URLS | _JSON,
                "name": st.text(max_size=300) | _JSON,
                "size": st.integers() | st.from_regex(r"-?[0-9]{1,30}", fullmatch=True) | _JSON,
                "checksum": _JSON,
                "thumbnail": _JSON,
            },
        )
        | _JSON,
    },
)


@given(
    name=st.sampled_from(["user_send_image", "user_send_file", "user_send_link", "user_send_text"]),
    attachments=st.lists(_ATTACHMENT | _JSON, max_size=30) | _JSON,
)
def test_whatever_the_attachments_only_well_formed_ones_are_read(name, attachments):
    raw = TestAttachments().event(name, attachments)
    try:
        event = parse_oa_event(raw)
    except WebhookRejectedError as error:
        refused: WebhookRejectedError | None = error
    else:
        refused = None
    if refused is not None:
        assert 400 <= refused.status < 500  # a client error, never a crash
        return
    assert len(event.attachments) <= 10
    for attachment in event.attachments:
        assert attachment.kind in {"image", "file"}
        assert attachment.url.startswith(("https://", "http://"))
        assert attachment.url.isprintable()
        assert len(attachment.url) <= 2_048
        assert attachment.name is None or (
            attachment.name.isprintable() and len(attachment.name) <= 255
        )
        assert attachment.size is None or (
            isinstance(attachment.size, int) and attachment.size >= 0
        )
