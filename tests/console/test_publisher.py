"""The background publisher's coalescing: what a burst of queued messages becomes."""

from console.realtime import BATCH_MAX, coalesce


def event(group: str, n: int) -> tuple[str, dict]:
    return group, {"type": "kiln.event", "event": {"n": n}}


def test_runs_of_events_per_group_become_one_message_each_in_order():
    items = [event("a", 1), event("b", 1), event("a", 2), event("c", 1), event("a", 3), event("b", 2)]
    assert coalesce(items) == [
        ("a", {"type": "kiln.events", "events": [{"n": 1}, {"n": 2}, {"n": 3}]}),
        ("b", {"type": "kiln.events", "events": [{"n": 1}, {"n": 2}]}),
        ("c", {"type": "kiln.event", "event": {"n": 1}}),  # alone: sent as it came
    ]


def test_other_messages_stay_in_their_place_within_their_group():
    access = {"type": "kiln.access_changed"}
    items = [event("u", 1), event("u", 2), ("u", access), event("u", 3), ("v", access), event("u", 4)]
    assert coalesce(items) == [
        ("u", {"type": "kiln.events", "events": [{"n": 1}, {"n": 2}]}),
        ("u", access),
        ("u", {"type": "kiln.events", "events": [{"n": 3}, {"n": 4}]}),
        ("v", access),
    ]


def test_long_runs_are_split_into_bounded_messages():
    items = [event("a", n) for n in range(2 * BATCH_MAX + 1)]
    sent = coalesce(items)
    assert [message["type"] for _, message in sent] == ["kiln.events", "kiln.events", "kiln.event"]
    assert [len(message["events"]) for _, message in sent[:2]] == [BATCH_MAX, BATCH_MAX]
    flat = [e for _, message in sent for e in message.get("events", [message.get("event")])]
    assert flat == [{"n": n} for n in range(2 * BATCH_MAX + 1)]


def test_nothing_in_nothing_out():
    assert coalesce([]) == []


def test_only_groups_with_members_are_watched():
    import asyncio
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from channels.layers import DEFAULT_CHANNEL_LAYER, InMemoryChannelLayer, channel_layers

    from console.realtime import watched_groups

    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)  # Redis, as configured
    run = uuid.uuid4().hex
    watched, lonely, left = f"test.{run}.watched", f"test.{run}.lonely", f"test.{run}.left"

    async def check() -> set[str]:
        await layer.group_add(watched, f"test.{run}.member")
        await layer.group_add(left, f"test.{run}.member")
        await layer.group_discard(left, f"test.{run}.member")
        try:
            return await watched_groups(layer, {watched, lonely, left})
        finally:
            await layer.group_discard(watched, f"test.{run}.member")

    def run_alone(coroutine):  # noqa: ANN001, ANN202 — a loop of its own, whatever this thread runs
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    assert run_alone(check()) == {watched}
    # Other layers cannot be asked: every group is sent to.
    assert run_alone(watched_groups(InMemoryChannelLayer(), {watched, lonely})) == {watched, lonely}
