/** Shapes of the jobs API (docs/jobs.md). */

export const JOB_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const ACTIVE_STATUSES: readonly JobStatus[] = ["pending", "running"];

export const RESTART_POLICIES = ["never", "on-failure", "always"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

export type Level = "read" | "write" | "manage";

/** `<job summary>`: what lists and events carry. */
export interface JobSummary {
  id: string;
  name: string | null;
  owner: string;
  uri: string;
  status: JobStatus;
  reason: string;
  description: string;
  exit_code: number | null;
  image: string;
  command: string;
  preset: string;
  tags: string[];
  http_port: number | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  restarts: number;
  flow_id: string;
  bake_id: string;
  task_id: string;
}

/** `<history row>`. */
export interface JobHistoryRow {
  status: JobStatus;
  reason: string;
  description: string;
  exit_code: number | null;
  at: string;
}

/** `<job detail>`. */
export interface JobDetail extends JobSummary {
  name_uri: string | null;
  cluster: string;
  workdir: string;
  env: Record<string, string>;
  volumes: string[];
  cpu: number;
  memory_mb: number;
  http_auth: boolean;
  http_url: string | null;
  life_span: number | null;
  schedule_timeout: number | null;
  restart_policy: RestartPolicy;
  job_description: string;
  worker: string | null;
  log_lines: number;
  my_level: Level | null;
  history: JobHistoryRow[];
}

export interface Preset {
  name: string;
  cpu: number;
  memory_mb: number;
  description?: string;
}

export interface PresetList {
  default: string;
  results: Preset[];
}

/** `<run>`: the body of `POST /api/v1/jobs/`. */
export interface RunJobRequest {
  image: string;
  command: string;
  name?: string;
  workdir?: string;
  env?: Record<string, string>;
  volumes?: string[];
  preset?: string;
  http_port?: number;
  http_auth?: boolean;
  life_span?: number;
  schedule_timeout?: number;
  tags?: string[];
  restart_policy?: RestartPolicy;
  description?: string;
  share?: string[];
}

// ---- WebSocket messages of /ws/jobs/<id>/logs/ ----

export type LogStateMessage = {
  type: "state";
  job: JobSummary;
};
export type LogLinesMessage = {
  type: "log";
  first: number;
  lines: string[];
};
export type LogJobStatusMessage = {
  type: "job.status";
  job: JobSummary;
};
export type LogEndMessage = {
  type: "end";
  status: JobStatus;
  reason: string;
  exit_code: number | null;
  last_offset: number;
};
export type LogErrorMessage = {
  type: "error";
  code: string;
  message?: string;
};
export type LogMessage = LogStateMessage | LogLinesMessage | LogJobStatusMessage | LogEndMessage | LogErrorMessage;

export function isActive(status: JobStatus | string): boolean {
  return status === "pending" || status === "running";
}

const LEVEL_RANK: Record<Level, number> = { read: 1, write: 2, manage: 3 };

/** Whether `level` (the caller's, from `my_level`) is at least `wanted`. */
export function hasLevel(level: Level | null | undefined, wanted: Level): boolean {
  return level != null && LEVEL_RANK[level] >= LEVEL_RANK[wanted];
}
