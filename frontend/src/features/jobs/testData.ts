/** Jobs as the API answers them, for tests. */
import type { JobDetail, JobSummary } from "./types";

export function jobSummary(patch: Partial<JobSummary> = {}): JobSummary {
  return {
    id: "job-11111111-2222-3333-4444-555555555555",
    name: "train",
    owner: "bob",
    uri: "job://default/bob/job-11111111-2222-3333-4444-555555555555",
    status: "running",
    reason: "Started",
    description: "",
    exit_code: null,
    image: "python:3.11",
    command: "python train.py",
    preset: "cpu-small",
    tags: [],
    http_port: null,
    created_at: "2025-03-10T12:00:00Z",
    started_at: "2025-03-10T12:00:01Z",
    finished_at: null,
    restarts: 0,
    flow_id: "",
    bake_id: "",
    task_id: "",
    ...patch,
  };
}

export function jobDetail(patch: Partial<JobDetail> = {}): JobDetail {
  const summary = jobSummary(patch);
  return {
    name_uri: summary.name ? `job://default/${summary.owner}/${summary.name}` : null,
    cluster: "default",
    workdir: "",
    env: {},
    volumes: [],
    cpu: 1,
    memory_mb: 2048,
    http_auth: true,
    http_url: null,
    life_span: null,
    schedule_timeout: null,
    restart_policy: "never",
    job_description: "",
    worker: "worker-1",
    log_lines: 0,
    my_level: "manage",
    history: [
      { status: "pending", reason: "Created", description: "", exit_code: null, at: "2025-03-10T12:00:00Z" },
      { status: "running", reason: "Started", description: "", exit_code: null, at: "2025-03-10T12:00:01Z" },
    ],
    ...summary,
    ...patch,
  };
}
