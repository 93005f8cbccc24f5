import { QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { beforeEach, describe, expect, it } from "vitest";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { json, mockFetch } from "@/test/fetch";
import { testQueryClient } from "@/test/render";
import { flowKeys, useBake, useBakeEvents } from "./api";
import { applyBakeState, applyBakeSummary, applyTaskStatus, mergeBakeDetail } from "./bakeCache";
import { bakeDetail, diamond, task } from "./testData";
import type { BakeDetail, Task } from "./types";

const statuses = (detail: BakeDetail | undefined) => Object.fromEntries((detail?.attempt?.tasks ?? []).map((t) => [t.id, t.status]));
const event = (t: Task, attempt = 1) => ({ type: "task.status" as const, bake_id: "bake-1", attempt, task: t });

describe("task.status events applied to a cached bake", () => {
  it("replaces the task by id, leaving the rest (and other bakes and attempts) alone", () => {
    const detail = bakeDetail();
    const running = applyTaskStatus(detail, event(task("a", {}, { status: "running", raw_id: "job-a", started_at: "2025-01-01T10:00:01Z" })));
    expect(statuses(running)).toEqual({ a: "running", b: "pending", c: "pending", d: "pending" });
    expect(running.attempt?.tasks[0].raw_id).toBe("job-a");
    expect(detail.attempt?.tasks[0].status).toBe("pending"); // not mutated

    expect(applyTaskStatus(detail, { ...event(task("a", {}, { status: "running" })), bake_id: "bake-2" })).toBe(detail);
    expect(applyTaskStatus(detail, event(task("a", {}, { status: "running" }), 2))).toBe(detail);
  });

  it("never steps a task back within an attempt, whatever order events and answers arrive in", () => {
    let detail = bakeDetail();
    detail = applyTaskStatus(detail, event(task("a", {}, { status: "succeeded", outputs: { word: "kiln" } })));
    const late = applyTaskStatus(detail, event(task("a", {}, { status: "running" })));
    expect(late).toBe(detail);
    expect(late.attempt?.tasks[0].outputs).toEqual({ word: "kiln" });

    // A REST answer read before that event: merged, not taken over.
    const stale = bakeDetail({}, [task("a", {}, { status: "running" }), ...diamond().slice(1)]);
    expect(statuses(mergeBakeDetail(detail, stale))).toEqual({ a: "succeeded", b: "pending", c: "pending", d: "pending" });
    // …but an answer about a newer attempt (a restart) replaces it.
    const restarted = bakeDetail({ status: "pending" }, diamond(), 2);
    expect(mergeBakeDetail(detail, restarted)).toBe(restarted);
  });

  it("takes the bake's status from bake.status, on the bake and its latest attempt", () => {
    const done = applyBakeSummary(bakeDetail(), { ...bakeDetail(), status: "succeeded", finished_at: "2025-01-01T10:01:00Z" });
    expect(done.status).toBe("succeeded");
    expect(done.attempt?.status).toBe("succeeded");
    expect(done.attempts.at(-1)?.finished_at).toBe("2025-01-01T10:01:00Z");
  });

  it("lets a later state replace the cached bake (the resync after a drop)", () => {
    const cached = applyTaskStatus(bakeDetail(), event(task("a", {}, { status: "running" })));
    const state = bakeDetail({ status: "failed" }, [task("a", {}, { status: "failed" }), ...diamond().slice(1).map((t) => ({ ...t, status: "cancelled" as const }))]);
    expect(applyBakeState(cached, state, null)).toBe(state);
    // A page showing an older attempt keeps its tasks and takes the bake's fields.
    const older = bakeDetail({}, diamond(), 1);
    const newer = bakeDetail({ status: "running" }, diamond(), 2);
    const kept = applyBakeState(older, newer, 1);
    expect(kept?.attempt?.number).toBe(1);
    expect(kept?.attempts).toHaveLength(2);
  });
});

describe("the bake's socket and query together", () => {
  beforeEach(() => {
    FakeWebSocket.install();
  });

  function setup() {
    const client = testQueryClient();
    const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
    const hook = renderHook(
      () => {
        const events = useBakeEvents("bake-1");
        const bake = useBake("bake-1", null, { live: events.status === "live" });
        return { events, bake };
      },
      { wrapper },
    );
    return { client, ...hook };
  }

  it("fills the cache from state, applies task.status live, and lets the state after a reconnect replace it", async () => {
    const { calls } = mockFetch({ "GET /api/v1/bakes/bake-1/": json(bakeDetail()) });
    const { client, result } = setup();
    await waitFor(() => expect(result.current.bake.data).toBeDefined());
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/bakes/bake-1/");

    const socket = FakeWebSocket.last;
    act(() => {
      socket.open();
      socket.receive({ type: "state", bake: bakeDetail() });
    });
    expect(result.current.events.status).toBe("live");
    act(() => socket.receive(event(task("a", {}, { status: "running", raw_id: "job-a" }))));
    await waitFor(() => expect(statuses(result.current.bake.data)).toMatchObject({ a: "running", d: "pending" }));
    act(() => socket.receive(event(task("a", {}, { status: "succeeded", raw_id: "job-a" }))));
    act(() => socket.receive(event(task("b", { a: "completed" }, { status: "running" }))));
    await waitFor(() => expect(statuses(result.current.bake.data)).toEqual({ a: "succeeded", b: "running", c: "pending", d: "pending" }));

    // While the socket is live, /ws/events/ invalidations do not re-read the bake over REST.
    const reads = calls.length;
    await act(() => client.invalidateQueries({ queryKey: flowKeys.all }));
    expect(calls.length).toBe(reads);

    // The connection drops; meanwhile the bake finished. The new connection's state replaces the cache.
    act(() => socket.drop());
    expect(result.current.events.status).toBe("reconnecting");
    await act(() => new Promise((resolve) => setTimeout(resolve, 600)));
    const again = FakeWebSocket.last;
    expect(again).not.toBe(socket);
    const finished = bakeDetail({ status: "succeeded" }, diamond().map((t) => ({ ...t, status: "succeeded" as const })));
    act(() => {
      again.open();
      again.receive({ type: "state", bake: finished });
    });
    await waitFor(() => expect(result.current.bake.data?.status).toBe("succeeded"));
    expect(statuses(result.current.bake.data)).toEqual({ a: "succeeded", b: "succeeded", c: "succeeded", d: "succeeded" });
  });

  it("resyncs (reconnects for a fresh state) when it hears of an attempt it does not know", async () => {
    mockFetch({ "GET /api/v1/bakes/bake-1/": json(bakeDetail()) });
    const { result } = setup();
    const socket = FakeWebSocket.last;
    act(() => {
      socket.open();
      socket.receive({ type: "state", bake: bakeDetail() });
    });
    await waitFor(() => expect(result.current.bake.data).toBeDefined());
    act(() => socket.receive(event(task("a", {}, { status: "running" }), 2)));
    expect(socket.closedWith).toBe(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(statuses(result.current.bake.data).a).toBe("pending"); // not applied to attempt 1
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state", bake: bakeDetail({}, [task("a", {}, { status: "running" })], 2) });
    });
    await waitFor(() => expect(result.current.bake.data?.attempt?.number).toBe(2));
    expect(statuses(result.current.bake.data)).toEqual({ a: "running" });
  });
});
