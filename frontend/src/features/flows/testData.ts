/** Shapes the flows tests build on (as the API sends them). */
import type { BakeDetail, Flow, FlowDetail, Task } from "./types";

export function task(id: string, needs: Task["needs"] = {}, extra: Partial<Task> = {}): Task {
  return {
    id,
    base_id: id,
    status: "pending",
    reason: "",
    needs,
    matrix: {},
    raw_id: null,
    outputs: {},
    carried_from: null,
    started_at: null,
    finished_at: null,
    ...extra,
  };
}

/** a → b, c → d */
export function diamond(): Task[] {
  return [task("a"), task("b", { a: "completed" }), task("c", { a: "completed" }), task("d", { b: "completed", c: "completed" })];
}

export function bakeDetail(extra: Partial<BakeDetail> = {}, tasks: Task[] = diamond(), number = 1): BakeDetail {
  const attempts = Array.from({ length: number }, (_, i) => ({
    number: i + 1,
    status: i + 1 === number ? ("running" as const) : ("failed" as const),
    from_failed: i > 0,
    created_at: "2025-01-01T10:00:00Z",
    finished_at: null,
  }));
  return {
    id: "bake-1",
    flow: "demo",
    flow_uri: "flow://default/bob/demo",
    uri: "flow://default/bob/demo/bake-1",
    batch: "diamond",
    name: "nightly",
    params: {},
    tags: [],
    status: "running",
    created_by: "bob",
    created_at: "2025-01-01T10:00:00Z",
    finished_at: null,
    my_level: "manage",
    attempts,
    attempt: { ...attempts[number - 1], tasks },
    ...extra,
  };
}

export function flowDetail(extra: Partial<FlowDetail> = {}): FlowDetail {
  return {
    id: "demo",
    uri: "flow://default/bob/demo",
    title: "Demo flow",
    owner: "bob",
    folder: "storage://default/bob/demo",
    config_dir: ".neuro",
    created_at: "2025-01-01T10:00:00Z",
    last_activity_at: "2025-01-01T10:00:00Z",
    my_level: "manage",
    ok: true,
    errors: [],
    warnings: [],
    live_jobs: [
      {
        id: "hello",
        title: "Say hello",
        multi: false,
        params: [{ name: "who", default: "world", descr: "Whom to greet", required: false }],
        suffix: null,
        status: null,
        raw_id: null,
        when: null,
        run: null,
      },
      { id: "many", title: null, multi: true, params: [], suffix: null, status: null, raw_id: null, when: null, run: null },
    ],
    batches: [
      { id: "diamond", title: null, file: ".neuro/diamond.yml", params: [] },
      {
        id: "train",
        title: "Training",
        file: ".neuro/train.yml",
        params: [
          { name: "epochs", default: "3", descr: "How many epochs", required: false },
          { name: "dataset", default: null, descr: null, required: true },
        ],
      },
    ],
    ...extra,
  };
}

/** A `<flow>` of bob's, as POST /api/v1/flows/ answers it (created or imported). */
export function flowSummary(id: string, extra: Partial<Flow> = {}): Flow {
  return {
    id,
    uri: `flow://default/bob/${id}`,
    title: "",
    owner: "bob",
    folder: `storage://default/bob/${id}`,
    config_dir: ".neuro",
    created_at: "2025-01-01T10:00:00Z",
    last_activity_at: "2025-01-01T10:00:00Z",
    my_level: "manage",
    ...extra,
  };
}
