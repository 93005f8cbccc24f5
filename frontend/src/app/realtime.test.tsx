import { act, renderHook } from "@testing-library/react";
import { QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { testQueryClient } from "@/test/render";
import { useRealtimeEvents } from "./realtime";

function setup() {
  const client = testQueryClient();
  for (const key of [["auth", "me"], ["jobs", "list"], ["files", "/a"], ["sharing", "acl", "job:"]]) client.setQueryData(key, {});
  const invalidated = () =>
    client
      .getQueryCache()
      .getAll()
      .filter((q) => q.state.isInvalidated)
      .map((q) => q.queryKey[0])
      .sort();
  const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={client}>{children}</QueryClientProvider>;
  const hook = renderHook(() => useRealtimeEvents(), { wrapper });
  return { client, invalidated, hook };
}

afterEach(() => vi.useRealTimers());

describe("useRealtimeEvents", () => {
  beforeEach(() => {
    FakeWebSocket.install();
  });

  it("re-reads all server state but the session on (re)connect, and on a later state message", () => {
    const { client, invalidated, hook } = setup();
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/events/");

    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state", watching: [] });
    });
    expect(hook.result.current).toBe("live");
    expect(invalidated()).toEqual(["files", "jobs", "sharing"]);

    for (const key of [["jobs", "list"], ["files", "/a"], ["sharing", "acl", "job:"]]) client.setQueryData(key, {});
    expect(invalidated()).toEqual([]);
    act(() => FakeWebSocket.last.receive({ type: "state", watching: ["job://default/alice"] })); // access changed
    expect(invalidated()).toEqual(["files", "jobs", "sharing"]);
  });

  it("invalidates only the lists an event is about, once per burst", () => {
    vi.useFakeTimers();
    const { client, invalidated } = setup();
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state", watching: [] });
    });
    for (const key of [["jobs", "list"], ["files", "/a"], ["sharing", "acl", "job:"]]) client.setQueryData(key, {});

    act(() => {
      FakeWebSocket.last.receive({ type: "job.status", uri: "job://default/bob/job-1", status: "running" });
      FakeWebSocket.last.receive({ type: "job.status", uri: "job://default/bob/job-1", status: "succeeded" });
    });
    expect(invalidated()).toEqual([]); // not yet: events come in bursts
    act(() => vi.advanceTimersByTime(200));
    expect(invalidated()).toEqual(["jobs"]);

    act(() => FakeWebSocket.last.receive({ type: "acl.revoked", uri: "storage://default/bob/data", principal: { kind: "user", name: "alice" } }));
    act(() => vi.advanceTimersByTime(200));
    expect(invalidated()).toEqual(["files", "jobs", "sharing"]);
  });
});
