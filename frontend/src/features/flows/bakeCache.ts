/**
 * A bake's detail as the page keeps it in the query cache, and how each message of
 * `/ws/bakes/<id>/` changes it. Pure functions (tested in bakeCache.test.ts).
 *
 * Within one attempt a task only moves forward — pending → running → a final status — and so does
 * the attempt. Merges keep the more advanced of two versions of a task, so events and REST answers
 * may arrive in any order (two workers publish independently; a refetch may answer after a newer
 * event) without the page ever stepping back. A restart makes a new attempt: its data replaces the
 * old attempt's. The socket's `state` message is a fresh snapshot: it replaces what was cached.
 */
import type { Bake, BakeDetail, Task, TaskStatusMessage } from "./types";

const RANK: Record<string, number> = { pending: 0, running: 1 };

/** 0 pending, 1 running, 2 finished (succeeded, failed, cancelled, skipped, cached). */
export function progressRank(status: string): number {
  return RANK[status] ?? 2;
}

/** The more advanced of two versions of one task (the incoming one when they are as advanced). */
export function mergeTask(current: Task | undefined, incoming: Task): Task {
  if (current && progressRank(incoming.status) < progressRank(current.status)) return current;
  return incoming;
}

/** The highest attempt number the detail knows of. */
export function latestAttemptNumber(detail: Pick<BakeDetail, "attempts" | "attempt"> | undefined): number {
  if (!detail) return 0;
  return Math.max(detail.attempt?.number ?? 0, ...detail.attempts.map((a) => a.number));
}

/** A `task.status` event applied to a cached detail (unchanged when it is about another bake or attempt). */
export function applyTaskStatus(detail: BakeDetail, message: Pick<TaskStatusMessage, "bake_id" | "attempt" | "task">): BakeDetail {
  const attempt = detail.attempt;
  if (detail.id !== message.bake_id || !attempt || attempt.number !== message.attempt) return detail;
  const index = attempt.tasks.findIndex((task) => task.id === message.task.id);
  const current = index >= 0 ? attempt.tasks[index] : undefined;
  const merged = mergeTask(current, message.task);
  if (merged === current) return detail;
  const tasks = index >= 0 ? attempt.tasks.map((task, i) => (i === index ? merged : task)) : [...attempt.tasks, merged];
  return { ...detail, attempt: { ...attempt, tasks } };
}

/** A `bake.status` (or `bake.created`) summary applied to a cached detail: the bake's fields, and its last attempt's status. */
export function applyBakeSummary(detail: BakeDetail, bake: Bake): BakeDetail {
  if (detail.id !== bake.id) return detail;
  if (progressRank(bake.status) < progressRank(detail.status)) return detail; // older news (a restart resyncs instead)
  const last = latestAttemptNumber(detail);
  const attempts = detail.attempts.map((a) => (a.number === last ? { ...a, status: bake.status, finished_at: bake.finished_at } : a));
  const attempt =
    detail.attempt && detail.attempt.number === last ? { ...detail.attempt, status: bake.status, finished_at: bake.finished_at } : detail.attempt;
  return { ...detail, ...bake, attempts, attempt };
}

/**
 * The socket's `state` (the bake with its latest attempt) for a cached detail of `requested`
 * attempt (null: the latest): it replaces the detail, unless the page shows another attempt, whose
 * tasks stay while the bake's fields and attempts list are taken from the state.
 */
export function applyBakeState(detail: BakeDetail | undefined, state: BakeDetail, requested: number | null): BakeDetail | undefined {
  if (requested === null || state.attempt?.number === requested) return state;
  if (!detail) return detail;
  return { ...state, attempt: detail.attempt };
}

/** A REST answer merged into what the cache holds (never stepping back within an attempt). */
export function mergeBakeDetail(cached: BakeDetail | undefined, fresh: BakeDetail): BakeDetail {
  if (!cached || cached.id !== fresh.id) return fresh;
  const cachedLatest = latestAttemptNumber(cached);
  const freshLatest = latestAttemptNumber(fresh);
  if (freshLatest < cachedLatest) return cached; // an answer from before a restart we already know of
  if (freshLatest > cachedLatest || !cached.attempt || !fresh.attempt || cached.attempt.number !== fresh.attempt.number) return fresh;
  const byId = new Map(cached.attempt.tasks.map((task) => [task.id, task]));
  const tasks = fresh.attempt.tasks.map((task) => mergeTask(byId.get(task.id), task));
  const behind = progressRank(fresh.status) < progressRank(cached.status);
  const attemptBehind = progressRank(fresh.attempt.status) < progressRank(cached.attempt.status);
  return {
    ...fresh,
    ...(behind ? { status: cached.status, finished_at: cached.finished_at, attempts: cached.attempts } : {}),
    attempt: {
      ...fresh.attempt,
      ...(attemptBehind ? { status: cached.attempt.status, finished_at: cached.attempt.finished_at } : {}),
      tasks,
    },
  };
}
