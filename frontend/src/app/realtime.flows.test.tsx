import { act, renderHook } from "@testing-library/react";
import { QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flowKeys } from "@/features/flows/api";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { testQueryClient } from "@/test/render";
import { useRealtimeEvents } from "./realtime";

/** What the Flows tab and the other tabs keep in the cache while the user looks around. */
const CACHED = [
  flowKeys.list(),
  flowKeys.detail("demo"),
  flowKeys.bakeList("demo"),
  flowKeys.bakeList("flow:/alice/x"),
  flowKeys.bakeDetail("bake-1", null),
  ["jobs", "list"],
  ["files", "/a"],
  ["sharing", "acl", "flow:"],
  ["auth", "me"],
];

function setup() {
  const client = testQueryClient();
  const fill = () => {
    for (const key of CACHED) client.setQueryData(key, {});
  };
  fill();
  const invalidated = () =>
    client
      .getQueryCache()
      .getAll()
      .filter((q) => q.state.isInvalidated)
      .map((q) => JSON.stringify(q.queryKey))
      .sort();
  const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
  renderHook(() => useRealtimeEvents(), { wrapper });
  act(() => {
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive({ type: "state", watching: ["flow://default/bob"] });
  });
  fill(); // forget the re-read of everything on connect
  expect(invalidated()).toEqual([]);
  return { client, invalidated, fill };
}

/** Every cached key of the Flows tab: lists of flows and bakes, flow pages, bake pages. */
const FLOWS = [
  flowKeys.bakeDetail("bake-1", null),
  flowKeys.bakeList("demo"),
  flowKeys.bakeList("flow:/alice/x"),
  flowKeys.detail("demo"),
  flowKeys.list(),
]
  .map((key) => JSON.stringify(key))
  .sort();

const summary = { id: "bake-1", flow: "demo", batch: "diamond", name: "nightly", status: "running" };

afterEach(() => vi.useRealTimers());

describe("useRealtimeEvents: flows and bakes", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    vi.useFakeTimers();
  });

  it.each([
    { type: "flow.updated", uri: "flow://default/bob/demo", flow: { id: "demo", uri: "flow://default/bob/demo", title: "Demo" } },
    { type: "flow.deleted", uri: "flow://default/bob/demo", flow: { id: "demo", uri: "flow://default/bob/demo", title: "Demo" } },
    { type: "flow.updated", uri: "flow://default/alice/x", flow: { id: "x", uri: "flow://default/alice/x", title: "" } }, // shared with me
    { type: "bake.created", uri: "flow://default/bob/demo/bake-1", bake: { ...summary, status: "pending" } },
    { type: "bake.status", uri: "flow://default/bob/demo/bake-1", bake: { ...summary, status: "succeeded" } },
    { type: "bake.restarted", uri: "flow://default/bob/demo/bake-1", bake: { ...summary, status: "pending" } },
  ])("re-reads the flows and bakes lists (and nothing else) on $type of $uri", (event) => {
    const { invalidated } = setup();
    act(() => FakeWebSocket.last.receive(event));
    expect(invalidated()).toEqual([]); // not yet: events come in bursts
    act(() => vi.advanceTimersByTime(200));
    expect(invalidated()).toEqual(FLOWS);
  });

  it("leaves a bake's task transitions to its page: task.status re-reads no list", () => {
    const { invalidated } = setup();
    act(() =>
      FakeWebSocket.last.receive({
        type: "task.status",
        uri: "flow://default/bob/demo/bake-1",
        bake_id: "bake-1",
        attempt: 1,
        task: { id: "a", status: "running" },
      }),
    );
    act(() => vi.advanceTimersByTime(1000));
    expect(invalidated()).toEqual([]);
  });

  it("re-reads the flows lists once for a burst of bake events, and again for the next burst", () => {
    const { client, invalidated, fill } = setup();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    const flowsInvalidations = () => invalidate.mock.calls.filter(([filters]) => JSON.stringify(filters?.queryKey) === '["flows"]').length;

    act(() => {
      for (let i = 0; i < 50; i++) {
        FakeWebSocket.last.receive({ type: "bake.status", uri: `flow://default/bob/demo/bake-${i}`, bake: { ...summary, id: `bake-${i}` } });
        FakeWebSocket.last.receive({ type: "task.status", uri: `flow://default/bob/demo/bake-${i}`, bake_id: `bake-${i}`, attempt: 1, task: {} });
      }
      FakeWebSocket.last.receive({ type: "job.status", uri: "job://default/bob/job-1", status: "running" });
    });
    act(() => vi.advanceTimersByTime(200));
    expect(flowsInvalidations()).toBe(1);
    expect(invalidated()).toEqual([...FLOWS, '["jobs","list"]'].sort());

    fill();
    act(() => FakeWebSocket.last.receive({ type: "flow.updated", uri: "flow://default/bob/demo", flow: { id: "demo" } }));
    act(() => vi.advanceTimersByTime(200));
    expect(flowsInvalidations()).toBe(2);
    expect(invalidated()).toEqual(FLOWS);
  });

  it("re-reads the sharing of a flow when its ACL changes", () => {
    const { invalidated } = setup();
    act(() => FakeWebSocket.last.receive({ type: "acl.granted", uri: "flow://default/bob/demo", principal: { kind: "user", name: "alice" }, level: "read" }));
    act(() => vi.advanceTimersByTime(200));
    expect(invalidated()).toEqual([...FLOWS, '["sharing","acl","flow:"]'].sort());
  });
});
