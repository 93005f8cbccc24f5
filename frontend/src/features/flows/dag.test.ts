import { describe, expect, it } from "vitest";
import { dagInput, dagStructureKey, layoutDag, NODE_WIDTH } from "./dag";
import { diamond, task } from "./testData";

describe("the DAG layout input", () => {
  it("has a node per task and an edge per need, from the needed task to the one that needs it", () => {
    const input = dagInput(diamond());
    expect(input.nodes).toEqual([
      { id: "a", status: "pending" },
      { id: "b", status: "pending" },
      { id: "c", status: "pending" },
      { id: "d", status: "pending" },
    ]);
    expect(input.edges.map((e) => [e.source, e.target])).toEqual([
      ["a", "b"],
      ["a", "c"],
      ["b", "d"],
      ["c", "d"],
    ]);
    expect(input.edges.every((e) => !e.dashed && !e.animated && e.mode === "completed")).toBe(true);
  });

  it("dashes edges of needs on `running`, animates edges into running tasks, and skips unknown needs", () => {
    const tasks = [
      task("server", {}, { status: "running" }),
      task("client", { server: "running", gone: "completed" }, { status: "running" }),
      task("report", { client: "completed" }),
    ];
    const { edges } = dagInput(tasks);
    expect(edges).toEqual([
      { id: "server->client", source: "server", target: "client", mode: "running", dashed: true, animated: true },
      { id: "client->report", source: "client", target: "report", mode: "completed", dashed: false, animated: false },
    ]);
  });

  it("lays out left to right by rank, and changes only when ids or needs change", () => {
    const positions = layoutDag(dagInput(diamond()));
    expect(positions.a.x).toBeLessThan(positions.b.x);
    expect(positions.b.x).toBe(positions.c.x);
    expect(positions.b.y).not.toBe(positions.c.y);
    expect(positions.d.x).toBeGreaterThanOrEqual(positions.b.x + NODE_WIDTH);

    const running = diamond().map((t) => (t.id === "a" ? { ...t, status: "running" as const } : t));
    expect(dagStructureKey(running)).toBe(dagStructureKey(diamond()));
    expect(dagStructureKey([...diamond(), task("e", { d: "completed" })])).not.toBe(dagStructureKey(diamond()));
  });
});
