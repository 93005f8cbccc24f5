import { describe, expect, it } from "vitest";
import {
  attemptFromSearch,
  bakeRoute,
  filesRouteOf,
  flowApiPath,
  flowLabel,
  flowLocationFromParams,
  flowLocationFromUri,
  flowLocationOf,
  flowRef,
  flowRoute,
  typedFolderUri,
} from "./paths";

describe("the ~user flow path convention", () => {
  it("reads my flows from /flows/:flowId and another user's from /flows/~alice/:flowId", () => {
    expect(flowLocationFromParams({ flowId: "my_flow" })).toEqual({ owner: null, id: "my_flow" });
    expect(flowLocationFromParams({ owner: "~alice", flowId: "x" })).toEqual({ owner: "alice", id: "x" });
    // Not an owner segment, or not a flow id: no flow.
    expect(flowLocationFromParams({ owner: "alice", flowId: "x" })).toBeNull();
    expect(flowLocationFromParams({ owner: "~", flowId: "x" })).toBeNull();
    expect(flowLocationFromParams({ flowId: "~alice" })).toBeNull();
    expect(flowLocationFromParams({})).toBeNull();
  });

  it("names the flow to the API by id (mine) or by flow:/owner/id", () => {
    expect(flowRef({ owner: null, id: "my_flow" })).toBe("my_flow");
    expect(flowRef({ owner: "alice", id: "x" })).toBe("flow:/alice/x");
    expect(flowApiPath({ owner: null, id: "my_flow" }, "bakes/")).toBe("/flows/my_flow/bakes/");
    expect(flowApiPath({ owner: "alice", id: "x" })).toBe("/flows/flow:/alice/x/");
    expect(flowApiPath({ owner: "alice", id: "x" }, "live/train/run/")).toBe("/flows/flow:/alice/x/live/train/run/");
  });

  it("links my flows in the short form and anyone else's with ~owner, both ways", () => {
    const mine = flowLocationOf({ owner: "bob", id: "demo" }, "bob");
    const hers = flowLocationOf({ owner: "alice", id: "x" }, "bob");
    expect(flowRoute(mine)).toBe("/flows/demo");
    expect(flowRoute(hers)).toBe("/flows/~alice/x");
    expect(bakeRoute(hers, "bake-1")).toBe("/flows/~alice/x/bakes/bake-1");
    expect(bakeRoute(mine, "bake-1", 2)).toBe("/flows/demo/bakes/bake-1?attempt=2");
    expect(flowLabel(hers)).toBe("~alice/x");
    // While the session is unknown, every flow names its owner (a link that works for anyone).
    expect(flowRoute(flowLocationOf({ owner: "bob", id: "demo" }, null))).toBe("/flows/~bob/demo");
    expect(flowLocationFromUri("flow://default/alice/x/bake-1", "bob")).toEqual({ owner: "alice", id: "x" });
    expect(flowLocationFromUri("flow://default/bob/x", "bob")).toEqual({ owner: null, id: "x" });
    expect(flowLocationFromUri("job://default/bob/x", "bob")).toBeNull();
  });

  it("links a flow's folder to the Files tab with its own ~user convention", () => {
    expect(filesRouteOf("storage://default/bob/demo", "bob")).toBe("/files/demo");
    expect(filesRouteOf("storage://default/bob/a b/c", "bob")).toBe("/files/a%20b/c");
    expect(filesRouteOf("storage://default/bob/~notes", "bob")).toBe("/files/~/~notes");
    expect(filesRouteOf("storage://default/alice/proj", "bob")).toBe("/files/~alice/proj");
    expect(filesRouteOf("flow://default/bob/x", "bob")).toBeNull();
  });

  it("reads ?attempt=N, and takes typed import folders", () => {
    expect(attemptFromSearch(new URLSearchParams("attempt=2"))).toBe(2);
    expect(attemptFromSearch(new URLSearchParams("attempt=0"))).toBeNull();
    expect(attemptFromSearch(new URLSearchParams("attempt=x"))).toBeNull();
    expect(attemptFromSearch(new URLSearchParams(""))).toBeNull();
    expect(typedFolderUri("storage:my-project")).toBe("storage:my-project");
    expect(typedFolderUri(" my-project ")).toBe("storage:my-project");
    expect(typedFolderUri("/my-project/sub")).toBe("storage:my-project/sub");
    expect(typedFolderUri("~alice/proj")).toBe("storage:/alice/proj");
    expect(typedFolderUri("   ")).toBeNull();
  });
});
