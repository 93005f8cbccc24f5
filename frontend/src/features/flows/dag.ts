/**
 * A bake attempt's DAG: tasks → the graph's nodes and edges (from each task's `needs`), and its
 * layout (dagre, left to right). Pure functions; the React Flow view is components/BakeGraph.tsx.
 */
import { graphlib, layout } from "@dagrejs/dagre";
import type { Task, TaskStatus } from "./types";

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 52;

export interface DagNode {
  id: string;
  status: TaskStatus;
}

export interface DagEdge {
  id: string;
  /** The task that is needed. */
  source: string;
  /** The task that needs it. */
  target: string;
  /** `running`: the target may start once the source has started (drawn dashed). */
  mode: "completed" | "running";
  dashed: boolean;
  /** The target is running: the edge is animated. */
  animated: boolean;
}

export interface DagInput {
  nodes: DagNode[];
  edges: DagEdge[];
}

/** One node per task (in the attempt's order); one edge per need that names a task of the attempt. */
export function dagInput(tasks: Task[]): DagInput {
  const ids = new Set(tasks.map((task) => task.id));
  const nodes = tasks.map((task) => ({ id: task.id, status: task.status }));
  const edges: DagEdge[] = [];
  for (const task of tasks) {
    for (const [need, mode] of Object.entries(task.needs ?? {})) {
      if (!ids.has(need)) continue;
      const running = mode === "running";
      edges.push({
        id: `${need}->${task.id}`,
        source: need,
        target: task.id,
        mode: running ? "running" : "completed",
        dashed: running,
        animated: task.status === "running",
      });
    }
  }
  return { nodes, edges };
}

/** What the layout depends on (task ids and needs, not statuses): the layout is redone only when it changes. */
export function dagStructureKey(tasks: Task[]): string {
  return JSON.stringify(tasks.map((task) => [task.id, Object.entries(task.needs ?? {})]));
}

export type Positions = Record<string, { x: number; y: number }>;

/** Top-left corner of each node, ranks left to right. */
export function layoutDag(input: Pick<DagInput, "nodes" | "edges">, options: { width?: number; height?: number } = {}): Positions {
  const width = options.width ?? NODE_WIDTH;
  const height = options.height ?? NODE_HEIGHT;
  const graph = new graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 64, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of input.nodes) graph.setNode(node.id, { width, height });
  for (const edge of input.edges) graph.setEdge(edge.source, edge.target);
  layout(graph);
  const positions: Positions = {};
  for (const node of input.nodes) {
    const placed = graph.node(node.id) as { x: number; y: number };
    positions[node.id] = { x: placed.x - width / 2, y: placed.y - height / 2 };
  }
  return positions;
}

