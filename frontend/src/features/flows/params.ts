/**
 * Params forms (a live job's Run, Start bake) → request bodies.
 *
 * A param's `default` is the YAML text, which may hold an expression (`${{ flow.id }}`): sending it
 * back as a value would turn it into a literal string. So a field starts with the default and only
 * values the user changed (or gave for a required param) are sent; the server applies the rest.
 */
import type { LiveRunRequest, Param, StartBakeRequest } from "./types";

export type ParamValues = Record<string, string>;
export type ParamErrors = Record<string, string>;

/** The form's first values: each param's default (empty for a required one). */
export function initialParamValues(params: Param[]): ParamValues {
  return Object.fromEntries(params.map((param) => [param.name, param.default ?? ""]));
}

/** Required params left empty. */
export function paramErrors(params: Param[], values: ParamValues): ParamErrors {
  const errors: ParamErrors = {};
  for (const param of params) {
    if (param.required && !(values[param.name] ?? "").trim()) errors[param.name] = "Required.";
  }
  return errors;
}

/** The `params` to send: values that differ from their defaults, and every required one. */
export function changedParams(params: Param[], values: ParamValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const param of params) {
    const value = values[param.name];
    if (value === undefined) continue;
    if (param.required || param.default === null || value !== param.default) out[param.name] = value;
  }
  return out;
}

/**
 * Split a command-line-like text into arguments: spaces separate, single and double quotes group,
 * a backslash escapes the next character (outside single quotes). `a "b c" 'd e'` → [a, b c, d e].
 */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  let current = "";
  let inArg = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (ch === "\\" && i + 1 < text.length) {
      i += 1;
      current += text[i];
      inArg = true;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inArg = true;
    } else if (/\s/.test(ch)) {
      if (inArg) args.push(current);
      current = "";
      inArg = false;
    } else {
      current += ch;
      inArg = true;
    }
  }
  if (inArg) args.push(current);
  return args;
}

/** The body of a live job's run: changed params; for a `multi` job, its arguments too. */
export function liveRunBody(params: Param[], values: ParamValues, options: { multi: boolean; args: string }): LiveRunRequest {
  const body: LiveRunRequest = {};
  const sent = changedParams(params, values);
  if (Object.keys(sent).length) body.params = sent;
  if (options.multi) {
    const args = splitArgs(options.args);
    if (args.length) body.args = args;
  }
  return body;
}

/** The body of Start bake: the batch, changed params, an optional name and tags. */
export function startBakeBody(batch: string, params: Param[], values: ParamValues, options: { name?: string; tags?: string } = {}): StartBakeRequest {
  const body: StartBakeRequest = { batch };
  const sent = changedParams(params, values);
  if (Object.keys(sent).length) body.params = sent;
  const name = options.name?.trim();
  if (name) body.name = name;
  const tags = (options.tags ?? "").split(/[\s,]+/).filter(Boolean);
  if (tags.length) body.tags = tags;
  return body;
}
