/** Shapes of the flows API (docs/flows.md "REST" and "WebSocket"). */

export type Level = "read" | "write" | "manage";

export const TASK_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled", "skipped", "cached"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type BakeStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled";
export type JobStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled";

/** `<error>`: a config problem at a position of a file. */
export interface FlowError {
  file: string;
  line: number;
  column: number;
  message: string;
  /** `file:line:column: message`. */
  text: string;
}

/** `<flow>`. */
export interface Flow {
  id: string;
  uri: string;
  title: string;
  owner: string;
  /** The project folder: `storage://<cluster>/<user>/<path>`. */
  folder: string;
  config_dir: string;
  created_at: string;
  last_activity_at: string;
  my_level: Level | null;
}

export interface Param {
  name: string;
  /** The text written in the YAML (it may hold an expression); null when the param is required. */
  default: string | null;
  descr: string | null;
  required: boolean;
}

/**
 * `<live job>`: one row of the `apolo-flow ps` view. A multi job has a row per running instance
 * (each with its `suffix`), or its latest run when none is running.
 */
export interface LiveJob {
  id: string;
  title: string | null;
  multi: boolean;
  params: Param[];
  /** The instance's suffix (multi jobs that have run), else null. */
  suffix: string | null;
  status: JobStatus | null;
  raw_id: string | null;
  when: string | null;
  run: { id: string; name: string | null; status: JobStatus; reason: string } | null;
}

export interface Batch {
  id: string;
  title: string | null;
  file: string;
  params: Param[];
}

/** `GET /api/v1/flows/<flow>/`. */
export interface FlowDetail extends Flow {
  ok: boolean;
  errors: FlowError[];
  warnings?: FlowError[];
  live_jobs: LiveJob[];
  batches: Batch[];
}

/** `<bake>`. */
export interface Bake {
  id: string;
  flow: string;
  flow_uri: string;
  uri: string;
  batch: string;
  name: string;
  params: Record<string, string>;
  tags: string[];
  status: BakeStatus;
  created_by: string;
  created_at: string;
  finished_at: string | null;
}

/** `<task>`. */
export interface Task {
  id: string;
  base_id: string;
  status: TaskStatus;
  reason: string;
  /** The tasks it waits for: until they finish (`completed`) or merely start (`running`). */
  needs: Record<string, "completed" | "running">;
  matrix: Record<string, unknown>;
  raw_id: string | null;
  outputs: Record<string, string>;
  carried_from: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface Attempt {
  number: number;
  status: BakeStatus;
  from_failed: boolean;
  created_at: string;
  finished_at: string | null;
}

/** `<bake detail>`: the bake, its attempts, and one attempt (the latest, or `?attempt=N`) with its tasks. */
export type GraphFormat = "dot" | "svg" | "pdf";

export interface BakeDetail extends Bake {
  my_level: Level | null;
  attempts: Attempt[];
  attempt: (Attempt & { tasks: Task[] }) | null;
  /** What the graph downloads as on this server: SVG and PDF only where Graphviz is installed. */
  graph_formats?: GraphFormat[];
}

/** `POST /api/v1/flows/<flow>/live/<job>/run/`. */
export interface LiveRunRequest {
  params?: Record<string, string>;
  args?: string[];
}

export interface JobSummary {
  id: string;
  name: string | null;
  status: JobStatus;
  [key: string]: unknown;
}

export interface LiveRunResult {
  /** False when the job was running already and the run attached to it. */
  started: boolean;
  job: JobSummary;
}

/** `POST /api/v1/flows/<flow>/bakes/`. */
export interface StartBakeRequest {
  batch: string;
  params?: Record<string, string>;
  name?: string;
  tags?: string[];
}

// ---- /ws/bakes/<id>/ ----

export type BakeStateMessage = { type: "state"; bake: BakeDetail };
export type TaskStatusMessage = { type: "task.status"; bake_id: string; attempt: number; task: Task };
export type BakeSummaryMessage = { type: "bake.status" | "bake.created" | "bake.restarted"; bake: Bake };
export type BakeErrorMessage = { type: "error"; code: string; message?: string };
export type BakeMessage = BakeStateMessage | TaskStatusMessage | BakeSummaryMessage | BakeErrorMessage;

const LEVEL_RANK: Record<Level, number> = { read: 1, write: 2, manage: 3 };

/** Whether `level` (the caller's `my_level`) is at least `wanted`. */
export function hasLevel(level: Level | null | undefined, wanted: Level): boolean {
  return level != null && LEVEL_RANK[level] >= LEVEL_RANK[wanted];
}

export function isActive(status: string | null | undefined): boolean {
  return status === "pending" || status === "running";
}

export function isFinished(status: string | null | undefined): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}
