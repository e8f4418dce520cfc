"""Recipient rules: -213 for non-followers, -230 outside the interaction window."""

from __future__ import annotations

import pytest

NOT_FOLLOWER = {"error": -213, "message": "User has not followed OA"}
OUTSIDE_WINDOW = {
    "error": -230,
    "message": "User has not interacted with the OA in the past 7 days",
}
DAY = 86_400


@pytest.fixture
def put_followers(client):
    async def _put(*followers):
        response = await client.put("/_emulator/followers", json=list(followers))
        assert response.status_code == 200
        return response.json()

    return _put


class TestFollowerRule:
    async def test_unknown_user_is_not_a_follower(self, send):
        response = await send(user_id="999")

        assert response.status_code == 200
        assert response.json() == NOT_FOLLOWER

    async def test_unfollowed_user_is_not_a_follower(self, send, put_followers):
        await put_followers({"user_id": "42", "is_follower": False})

        assert (await send(user_id="42")).json() == NOT_FOLLOWER

    async def test_put_replaces_an_existing_user(self, send, put_followers, follower_id):
        assert (await send()).json()["error"] == 0

        await put_followers({"user_id": follower_id, "is_follower": False})

        assert (await send()).json() == NOT_FOLLOWER

    async def test_refused_messages_are_not_recorded_as_sent(self, send, messages):
        await send(user_id="999")

        assert await messages() == []
        [record] = await messages(status="rejected")
        assert record["user_id"] == "999"
        assert record["error"] == -213


class TestInteractionWindow:
    async def test_last_interaction_just_inside_seven_days_is_accepted(self, send, put_followers):
        # START is 2026-11-30T10:00:30Z; one second less than 7 days before it:
        await put_followers({"user_id": "7", "last_interaction_at": "2026-11-23T10:00:31Z"})

        assert (await send(user_id="7")).json()["error"] == 0

    async def test_exactly_seven_days_is_still_inside(self, send, put_followers):
        await put_followers({"user_id": "7", "last_interaction_at": "2026-11-23T10:00:30Z"})

        assert (await send(user_id="7")).json()["error"] == 0

    async def test_older_than_seven_days_is_minus_230(self, send, put_followers):
        await put_followers({"user_id": "8", "last_interaction_at": "2026-11-23T10:00:29Z"})

        response = await send(user_id="8")

        assert response.status_code == 200
        assert response.json() == OUTSIDE_WINDOW

    async def test_window_closes_as_time_passes(self, send, put_followers, clock):
        await put_followers({"user_id": "9", "last_interaction_at": None})  # null = now

        clock.advance(7 * DAY)
        assert (await send(user_id="9")).json()["error"] == 0
        clock.advance(1)
        assert (await send(user_id="9")).json() == OUTSIDE_WINDOW

    async def test_naive_times_are_utc(self, send, put_followers):
        await put_followers({"user_id": "10", "last_interaction_at": "2026-11-23T10:00:29"})

        assert (await send(user_id="10")).json() == OUTSIDE_WINDOW

    async def test_offset_times_are_honoured(self, send, put_followers):
        # 17:00:31+07:00 is 10:00:31Z: inside by one second.
        await put_followers({"user_id": "11", "last_interaction_at": "2026-11-23T17:00:31+07:00"})

        assert (await send(user_id="11")).json()["error"] == 0

    async def test_window_is_configurable(self, send, put_followers, client):
        await put_followers({"user_id": "12", "last_interaction_at": "2026-11-28T10:00:30Z"})
        assert (await send(user_id="12")).json()["error"] == 0

        response = await client.put("/_emulator/config", json={"interaction_window_days": 1})
        assert response.json()["interaction_window_days"] == 1

        assert (await send(user_id="12")).json()["error"] == -230

    async def test_follower_rule_comes_before_the_window(self, send, put_followers):
        await put_followers(
            {"user_id": "13", "is_follower": False, "last_interaction_at": "2020-01-01T00:00:00Z"}
        )

        assert (await send(user_id="13")).json() == NOT_FOLLOWER


class TestFollowersAdmin:
    async def test_put_answers_the_stored_users(self, put_followers):
        answer = await put_followers(
            {"user_id": "1", "display_name": "Trần Thị B", "last_interaction_at": None},
            {"user_id": "2", "last_interaction_at": "2026-11-29T08:00:00+07:00"},
        )

        assert answer == {
            "upserted": 2,
            "followers": [
                {
                    "user_id": "1",
                    "display_name": "Trần Thị B",
                    "last_interaction_at": "2026-11-30T10:00:30.000+00:00",
                    "is_follower": True,
                },
                {
                    "user_id": "2",
                    "display_name": "",
                    "last_interaction_at": "2026-11-29T01:00:00.000+00:00",
                    "is_follower": True,
                },
            ],
        }

    async def test_get_lists_every_user(self, client, put_followers, follower_id):
        await put_followers({"user_id": "1"})

        followers = (await client.get("/_emulator/followers")).json()["followers"]

        assert [f["user_id"] for f in followers] == [follower_id, "1"]

    async def test_delete_forgets_every_user(self, client, send):
        response = await client.delete("/_emulator/followers")

        assert response.json() == {"deleted": 1}
        assert (await send()).json() == NOT_FOLLOWER

    @pytest.mark.parametrize(
        "payload",
        [
            [{"user_id": 123}],
            [{"user_id": ""}],
            [{"user_id": "1", "last_interaction_at": "yesterday"}],
            [{"user_id": "1", "unknown_field": True}],
            {"user_id": "1"},
        ],
        ids=["numeric-id", "empty-id", "bad-time", "extra-field", "not-a-list"],
    )
    async def test_bad_payload_is_400(self, client, payload):
        response = await client.put("/_emulator/followers", json=payload)

        assert response.status_code == 400
        assert response.json()["error"] == "invalid request body"
        assert response.json()["detail"]
