import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { backoffDelay, useWebSocket } from "./ws";

describe("backoffDelay", () => {
  it("doubles from the base and is capped at 10 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelay(n))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });
});

describe("useWebSocket", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeWebSocket.install();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("connects to ws://<this host><path> and resyncs when the first state message arrives", () => {
    const onResync = vi.fn();
    const onMessage = vi.fn();
    const { result } = renderHook(() => useWebSocket("/ws/events/", { onResync, onMessage }));

    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/events/");
    expect(result.current.status).toBe("connecting");

    act(() => FakeWebSocket.last.open());
    expect(result.current.status).toBe("connecting"); // open, but no state yet
    expect(onResync).not.toHaveBeenCalled();

    act(() => FakeWebSocket.last.receive({ type: "state", watching: ["job://default/bob"] }));
    expect(result.current.status).toBe("live");
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(onResync).toHaveBeenCalledWith({ type: "state", watching: ["job://default/bob"] });

    act(() => {
      FakeWebSocket.last.receive({ type: "job.status", uri: "job://default/bob/job-1", status: "running" });
      FakeWebSocket.last.receive({ type: "state", watching: [] }); // a later state is a plain message
      FakeWebSocket.last.receive("not json");
    });
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(onMessage.mock.calls.map(([m]) => m.type)).toEqual(["state", "job.status", "state"]);
  });

  it("reconnects with exponential back-off capped at 10 s and resyncs on every reconnect", () => {
    const onResync = vi.fn();
    const { result } = renderHook(() => useWebSocket("/ws/events/", { onResync }));
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state" });
    });
    expect(onResync).toHaveBeenCalledTimes(1);

    // The server goes away; every attempt fails. Delays: 0.5, 1, 2, 4, 8, 10, 10 s.
    act(() => FakeWebSocket.last.drop());
    expect(result.current.status).toBe("reconnecting");
    const expected = [500, 1000, 2000, 4000, 8000, 10_000, 10_000];
    for (const delay of expected) {
      const before = FakeWebSocket.instances.length;
      act(() => vi.advanceTimersByTime(delay - 1));
      expect(FakeWebSocket.instances).toHaveLength(before); // not yet
      act(() => vi.advanceTimersByTime(1));
      expect(FakeWebSocket.instances).toHaveLength(before + 1);
      act(() => FakeWebSocket.last.drop());
    }
    expect(result.current.attempt).toBe(expected.length + 1);

    // It comes back: the new connection resyncs, and the back-off starts over.
    act(() => vi.advanceTimersByTime(10_000));
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state" });
    });
    expect(result.current.status).toBe("live");
    expect(result.current.attempt).toBe(0);
    expect(onResync).toHaveBeenCalledTimes(2);

    act(() => FakeWebSocket.last.drop());
    const before = FakeWebSocket.instances.length;
    act(() => vi.advanceTimersByTime(500));
    expect(FakeWebSocket.instances).toHaveLength(before + 1);
  });

  it("does not reset the back-off for a connection that opens but never sends its state", () => {
    renderHook(() => useWebSocket("/ws/events/"));
    act(() => FakeWebSocket.last.drop());
    act(() => vi.advanceTimersByTime(500));
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.drop();
    });
    const before = FakeWebSocket.instances.length;
    act(() => vi.advanceTimersByTime(999));
    expect(FakeWebSocket.instances).toHaveLength(before);
    act(() => vi.advanceTimersByTime(1));
    expect(FakeWebSocket.instances).toHaveLength(before + 1);
  });

  it("stops for good when the server refuses the connection (4404)", () => {
    const { result } = renderHook(() => useWebSocket("/ws/resources/?uri=job:x"));
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "error", code: "not_found" });
      FakeWebSocket.last.drop(4404);
    });

    expect(result.current.status).toBe("closed");
    expect(result.current.error).toBe("not_found");
    act(() => vi.advanceTimersByTime(60_000));
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("closes the socket and stops retrying on unmount; reconnects when the path changes", () => {
    const { rerender, unmount } = renderHook(({ path }) => useWebSocket(path), { initialProps: { path: "/ws/bakes/a/" } });
    const first = FakeWebSocket.last;
    act(() => first.open());

    rerender({ path: "/ws/bakes/b/" });
    expect(first.closedWith).toBe(1000);
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/bakes/b/");

    const second = FakeWebSocket.last;
    act(() => second.drop());
    unmount();
    act(() => vi.advanceTimersByTime(60_000));
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it("computes the path of each attempt with resolvePath, without reconnecting when it changes", () => {
    let last = -1;
    const { rerender } = renderHook(() => useWebSocket("/ws/jobs/j/logs/", { resolvePath: (path) => `${path}?after=${last}` }));
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/jobs/j/logs/?after=-1");
    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state" });
    });
    last = 41;
    rerender();
    expect(FakeWebSocket.instances).toHaveLength(1);

    act(() => FakeWebSocket.last.drop());
    act(() => vi.advanceTimersByTime(500));
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.last.url).toBe("ws://localhost:5173/ws/jobs/j/logs/?after=41");
  });

  it("sends JSON only while open", () => {
    const { result } = renderHook(() => useWebSocket("/ws/events/"));
    expect(result.current.send({ type: "ping" })).toBe(false);
    act(() => FakeWebSocket.last.open());
    expect(result.current.send({ type: "ping" })).toBe(true);
    expect(FakeWebSocket.last.sent).toEqual([{ type: "ping" }]);
  });
  it("reconnect() drops the connection and connects again at once, for a fresh state", () => {
    const onResync = vi.fn();
    const { result } = renderHook(() => useWebSocket("/ws/bakes/b/", { onResync }));
    const first = FakeWebSocket.last;
    act(() => {
      first.open();
      first.receive({ type: "state", n: 1 });
    });
    expect(result.current.status).toBe("live");

    act(() => result.current.reconnect());
    expect(first.closedWith).toBe(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.status).toBe("connecting");
    act(() => first.drop()); // the old socket's late close changes nothing
    act(() => vi.advanceTimersByTime(60_000));
    expect(FakeWebSocket.instances).toHaveLength(2);

    act(() => {
      FakeWebSocket.last.open();
      FakeWebSocket.last.receive({ type: "state", n: 2 });
    });
    expect(result.current.status).toBe("live");
    expect(onResync).toHaveBeenLastCalledWith({ type: "state", n: 2 });
    expect(onResync).toHaveBeenCalledTimes(2);

    // After a refusal it stays closed.
    act(() => FakeWebSocket.last.drop(4404));
    act(() => result.current.reconnect());
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(result.current.status).toBe("closed");
  });
});
