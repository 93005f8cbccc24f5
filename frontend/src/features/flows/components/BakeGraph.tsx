import { Background, Controls, Handle, MarkerType, Position, ReactFlow, useReactFlow, useStore, type Edge, type Node, type NodeProps } from "@xyflow/react";
import { memo, useEffect, useMemo } from "react";
import { dagInput, dagStructureKey, layoutDag, NODE_HEIGHT, NODE_WIDTH } from "../dag";
import type { Task, TaskStatus } from "../types";

type TaskNodeData = { id: string; status: TaskStatus; reason: string };
type TaskNode = Node<TaskNodeData, "task">;

/** One task: coloured by status (running ones pulse); its DOM element carries the stable selectors. */
const TaskNodeView = memo(function TaskNodeView({ data, selected }: NodeProps<TaskNode>) {
  return (
    <div
      className={`dag-node dag-node-${data.status}${selected ? " dag-node-selected" : ""}`}
      data-testid="dag-node"
      data-task={data.id}
      data-status={data.status}
      title={`${data.id}: ${data.status}${data.reason ? ` (${data.reason})` : ""}`}
      style={{ width: NODE_WIDTH, height: NODE_HEIGHT }}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <span className="dag-node-id">{data.id}</span>
      <span className="dag-node-status">
        {data.status === "running" ? <span className="dag-node-dot" aria-hidden="true" /> : null}
        {data.status}
      </span>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const NODE_TYPES = { task: TaskNodeView };

const FIT_OPTIONS = { padding: 0.15, maxZoom: 1.2 };

/** Fit the whole graph again when the pane changes size (the task details panel opens, the window resizes). */
function FitOnResize() {
  const { fitView } = useReactFlow();
  const width = useStore((state) => state.width);
  const height = useStore((state) => state.height);
  useEffect(() => {
    if (width > 0 && height > 0) void fitView(FIT_OPTIONS);
  }, [width, height, fitView]);
  return null;
}

const HANDLES: TaskNode["handles"] = [
  { type: "target", position: Position.Left, x: 0, y: NODE_HEIGHT / 2 - 0.5, width: 1, height: 1 },
  { type: "source", position: Position.Right, x: NODE_WIDTH - 1, y: NODE_HEIGHT / 2 - 0.5, width: 1, height: 1 },
];

/**
 * The attempt's DAG (React Flow), laid out by dagre left to right. The layout is computed again
 * only when the tasks or their needs change; statuses only recolour the nodes. Edges of `running`
 * needs are dashed; edges into a running task are animated.
 */
export function BakeGraph({ tasks, selected, onSelect }: { tasks: Task[]; selected: string | null; onSelect: (taskId: string | null) => void }) {
  const structure = dagStructureKey(tasks);
  // The layout depends only on the structure (ids and needs), not on statuses.
  const positions = useMemo(() => layoutDag(dagInput(tasks)), [structure]);

  const { nodes, edges } = useMemo(() => {
    const input = dagInput(tasks);
    const byId = new Map(tasks.map((task) => [task.id, task]));
    const nodes: TaskNode[] = input.nodes.map((node) => ({
      id: node.id,
      type: "task",
      position: positions[node.id] ?? { x: 0, y: 0 },
      data: { id: node.id, status: node.status, reason: byId.get(node.id)?.reason ?? "" },
      // Known size and handles: React Flow needs no measuring pass, and keeps the edges when
      // nodes are re-created on each status change.
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      measured: { width: NODE_WIDTH, height: NODE_HEIGHT },
      handles: HANDLES,
      selected: node.id === selected,
      draggable: false,
      connectable: false,
    }));
    const edges: Edge[] = input.edges.map((edge) => ({
      id: edge.id,
      source: edge.source,
      target: edge.target,
      animated: edge.animated,
      className: `dag-edge dag-edge-${edge.mode}${edge.animated ? " dag-edge-active" : ""}`,
      style: edge.dashed ? { strokeDasharray: "6 4" } : undefined,
      markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
      selectable: false,
      focusable: false,
    }));
    return { nodes, edges };
  }, [tasks, positions, selected]);

  return (
    <div className="bake-graph" data-testid="bake-graph" aria-label="Task graph">
      <ReactFlow
        key={structure}
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        fitView
        fitViewOptions={FIT_OPTIONS}
        minZoom={0.1}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        onlyRenderVisibleElements={tasks.length > 300}
        onNodeClick={(_, node) => onSelect(node.id === selected ? null : node.id)}
        onPaneClick={() => onSelect(null)}
        proOptions={{ hideAttribution: false }}
      >
        <Background gap={16} size={1} />
        <Controls showInteractive={false} fitViewOptions={FIT_OPTIONS} />
        <FitOnResize />
      </ReactFlow>
    </div>
  );
}
