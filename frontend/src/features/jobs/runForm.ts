/**
 * The Run job form's values, and the `POST /api/v1/jobs/` body built from them (docs/jobs.md
 * `<run>`). Pure functions, so the form component only renders and the rules are tested alone.
 */
import { ApiError } from "@/lib/api";
import { splitList } from "./filters";
import type { RestartPolicy, RunJobRequest } from "./types";

export const DEFAULT_IMAGE = "python:3.11";

export interface VolumeRow {
  /** `storage:data`, `data` (own storage), `storage:/alice/x` or a full `storage://…` URI. */
  storage: string;
  /** Absolute path inside the job, e.g. `/data`. */
  mount: string;
  readOnly: boolean;
}

export interface EnvRow {
  key: string;
  value: string;
}

export interface RunFormValues {
  image: string;
  command: string;
  name: string;
  workdir: string;
  preset: string;
  volumes: VolumeRow[];
  env: EnvRow[];
  httpPort: string;
  httpAuth: boolean;
  /** "1h 30m", "2d", "3600" (seconds); empty: no limit. */
  lifeSpan: string;
  /** Comma- or space-separated. */
  tags: string;
  restartPolicy: RestartPolicy;
  /** Principals (`user:alice`, `group:ml`, or as typed) granted read at creation. */
  share: string[];
}

export function emptyRunForm(preset = ""): RunFormValues {
  return {
    image: DEFAULT_IMAGE,
    command: "",
    name: "",
    workdir: "",
    preset,
    volumes: [],
    env: [],
    httpPort: "",
    httpAuth: true,
    lifeSpan: "",
    tags: "",
    restartPolicy: "never",
    share: [],
  };
}

/** Field → messages; keys are the request's field names, so server and client errors share them. */
export type FieldErrors = Partial<Record<keyof RunJobRequest, string[]>>;

const NAME_RE = /^[a-z](?:-?[a-z0-9])*$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };

/** `"1d 2h"`, `"90m"`, `"1h30m"`, `"3600"` (seconds) → seconds; `null` when empty; `NaN` when unreadable. */
export function parseDuration(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const compact = value.replace(/\s+/g, "");
  if (!/^(\d+[dhms])+$/.test(compact)) return Number.NaN;
  let seconds = 0;
  for (const [, amount, unit] of compact.matchAll(/(\d+)([dhms])/g)) seconds += Number(amount) * UNIT_SECONDS[unit];
  return seconds;
}

/** `storage:data` + `/data` + read-only → `storage:data:/data:ro` (a bare `data` gets `storage:`). */
export function volumeString(row: VolumeRow): string {
  const storage = row.storage.trim();
  const source = storage.startsWith("storage:") ? storage : `storage:${storage}`;
  return `${source}:${row.mount.trim()}${row.readOnly ? ":ro" : ""}`;
}

/**
 * The request body, or the errors that keep it from being sent. Empty optional fields are left
 * out (the server's defaults apply); blank volume and env rows are ignored.
 */
export function buildRunBody(values: RunFormValues): { body: RunJobRequest; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const fail = (field: keyof RunJobRequest, message: string) => {
    (errors[field] ??= []).push(message);
  };

  const image = values.image.trim();
  if (!image) fail("image", "An image is required.");
  if (!values.command.trim()) fail("command", "A command is required.");
  const body: RunJobRequest = { image, command: values.command };

  const name = values.name.trim();
  if (name) {
    if (name.length < 3 || name.length > 40 || !NAME_RE.test(name) || name.startsWith("job-")) {
      fail("name", "3–40 lower-case letters, digits and single dashes, starting with a letter (not “job-”).");
    }
    body.name = name;
  }
  if (values.workdir.trim()) body.workdir = values.workdir.trim();
  if (values.preset) body.preset = values.preset;

  const volumes: string[] = [];
  values.volumes.forEach((row, index) => {
    if (!row.storage.trim() && !row.mount.trim()) return;
    if (!row.storage.trim()) fail("volumes", `Volume ${index + 1}: which storage path?`);
    else if (!row.mount.trim().startsWith("/")) fail("volumes", `Volume ${index + 1}: the mount path must be absolute, e.g. /data.`);
    else volumes.push(volumeString(row));
  });
  if (volumes.length) body.volumes = volumes;

  const env: Record<string, string> = {};
  values.env.forEach((row, index) => {
    const key = row.key.trim();
    if (!key && !row.value) return;
    if (!ENV_KEY_RE.test(key)) fail("env", `Variable ${index + 1}: “${key}” is not a valid name.`);
    else if (key in env) fail("env", `Variable ${key} is set twice.`);
    else env[key] = row.value;
  });
  if (Object.keys(env).length) body.env = env;

  const port = values.httpPort.trim();
  if (port) {
    const number = Number(port);
    if (!Number.isInteger(number) || number < 1 || number > 65535) fail("http_port", "A port between 1 and 65535.");
    else body.http_port = number;
  }
  if (port || !values.httpAuth) body.http_auth = values.httpAuth;

  const lifeSpan = parseDuration(values.lifeSpan);
  if (lifeSpan !== null) {
    if (!Number.isFinite(lifeSpan) || lifeSpan <= 0) fail("life_span", "A duration such as 30m, 2h, 1d 12h, or seconds.");
    else body.life_span = lifeSpan;
  }

  const tags = splitList(values.tags);
  if (tags.length) body.tags = tags;
  if (values.restartPolicy !== "never") body.restart_policy = values.restartPolicy;
  if (values.share.length) body.share = [...values.share];

  return { body, errors };
}

function flatten(value: unknown, prefix = ""): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === "string") return [prefix + value];
  if (Array.isArray(value)) return value.flatMap((item) => flatten(item, prefix));
  if (typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) =>
      flatten(item, /^\d+$/.test(key) ? `${prefix}#${Number(key) + 1}: ` : `${prefix}${key}: `),
    );
  }
  return [prefix + String(value)];
}

/** The server's `error.details` (field → messages, nested for list items) as form field errors. */
export function serverFieldErrors(error: unknown): FieldErrors {
  if (!(error instanceof ApiError) || !error.details || typeof error.details !== "object" || Array.isArray(error.details)) return {};
  const out: Record<string, string[]> = {};
  for (const [field, value] of Object.entries(error.details as Record<string, unknown>)) {
    const messages = flatten(value);
    if (messages.length) out[field] = messages;
  }
  return out as FieldErrors;
}
