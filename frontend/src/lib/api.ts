/**
 * The one HTTP client of the SPA.
 *
 * - every path is relative to `/api/v1` (absolute `/…` or `http…` URLs, such as a list's
 *   `next` cursor, are used as they are);
 * - the session cookie travels (`credentials: "same-origin"`);
 * - unsafe methods carry `X-CSRFToken` from the `csrftoken` cookie, fetching
 *   `GET /api/v1/auth/csrf/` first when there is no such cookie;
 * - any non-2xx answer becomes an {@link ApiError} parsed from
 *   `{"error": {"code", "message", "details"}}`.
 */

export const API_BASE = "/api/v1";
const CSRF_COOKIE = "csrftoken";
const CSRF_HEADER = "X-CSRFToken";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** Error codes of the contract (docs/api.md); anything else the server sends is kept as is. */
export type ApiErrorCode =
  | "invalid"
  | "not_authenticated"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "unprocessable"
  | "server_error"
  | "network_error"
  | (string & {});

export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: unknown;

  constructor(status: number, code: ApiErrorCode, message: string, details: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field → messages, when `details` has that shape (400 `invalid`). */
  get fieldErrors(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    if (this.details && typeof this.details === "object" && !Array.isArray(this.details)) {
      for (const [field, value] of Object.entries(this.details as Record<string, unknown>)) {
        if (Array.isArray(value)) out[field] = value.map(String);
        else if (typeof value === "string") out[field] = [value];
      }
    }
    return out;
  }
}

export function isApiError(error: unknown, status?: number): error is ApiError {
  return error instanceof ApiError && (status === undefined || error.status === status);
}

/** A message fit for the user, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = Object.entries(error.fieldErrors).filter(([field]) => field !== "non_field_errors");
    if (fields.length === 0) return error.message;
    return `${error.message} ${fields.map(([f, msgs]) => `${f}: ${msgs.join(" ")}`).join("; ")}`.trim();
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

const CODE_BY_STATUS: Record<number, ApiErrorCode> = {
  400: "invalid",
  401: "not_authenticated",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "too_large",
  422: "unprocessable",
};

function codeForStatus(status: number): ApiErrorCode {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? "server_error" : "error");
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie ? document.cookie.split(";") : []) {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    if (key === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** Token from the last `auth/csrf/` answer, for when the cookie cannot be read. */
let csrfFallback: string | null = null;
let csrfRequest: Promise<string> | null = null;

async function csrfToken(refresh = false): Promise<string> {
  if (!refresh) {
    const cookie = readCookie(CSRF_COOKIE);
    if (cookie) return cookie;
    if (csrfFallback) return csrfFallback;
  }
  csrfRequest ??= (async () => {
    try {
      const body = await request<{ csrf_token?: string }>("GET", "/auth/csrf/");
      csrfFallback = readCookie(CSRF_COOKIE) ?? body?.csrf_token ?? null;
      if (!csrfFallback) throw new ApiError(0, "csrf_missing", "The server gave no CSRF token.");
      return csrfFallback;
    } finally {
      csrfRequest = null;
    }
  })();
  return csrfRequest;
}

/** Forget the cached CSRF token (tests; after logout the server rotates it anyway). */
export function resetCsrf(): void {
  csrfFallback = null;
  csrfRequest = null;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export function apiUrl(path: string, query?: Query): string {
  let url = /^(https?:)?\/\//.test(path) || path.startsWith(`${API_BASE}/`) ? path : `${API_BASE}${path.startsWith("/") ? "" : "/"}${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.append(key, String(value));
    }
    const qs = params.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  return url;
}

function isRawBody(body: unknown): body is BodyInit {
  return (
    typeof body === "string" ||
    body instanceof FormData ||
    body instanceof Blob ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}

/**
 * An {@link ApiError} from an answer's status and body text (the contract's error shape, DRF's
 * `{"detail"}`, or anything else, e.g. a proxy's HTML page). Shared by `fetch` and XHR callers.
 */
export function apiErrorFromText(status: number, statusText: string, text: string): ApiError {
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  const fallback = statusText || `Request failed with status ${status}`;
  if (payload && typeof payload === "object") {
    const err = (payload as { error?: unknown }).error;
    if (err && typeof err === "object") {
      const { code, message, details } = err as { code?: unknown; message?: unknown; details?: unknown };
      return new ApiError(
        status,
        typeof code === "string" && code ? code : codeForStatus(status),
        typeof message === "string" && message ? message : fallback,
        details ?? null,
      );
    }
    // Not the contract's shape (a proxy, or DRF before the handler): keep what we can.
    const detail = (payload as { detail?: unknown }).detail;
    if (typeof detail === "string") return new ApiError(status, codeForStatus(status), detail, payload);
  }
  return new ApiError(status, codeForStatus(status), fallback, payload);
}

async function parseError(response: Response): Promise<ApiError> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    text = "";
  }
  return apiErrorFromText(response.status, response.statusText, text);
}

/** A 403 that a fresh CSRF token may cure (the token was rotated at login, or the cookie expired). */
export function isCsrfFailure(error: ApiError): boolean {
  return error.status === 403 && /csrf/i.test(error.message);
}

/**
 * The `X-CSRFToken` header for an unsafe request made outside this client (e.g. an XHR upload
 * that reports progress); `refresh` fetches a new token first.
 */
export async function csrfHeaders(refresh = false): Promise<Record<string, string>> {
  return { [CSRF_HEADER]: await csrfToken(refresh) };
}

async function request<T>(method: string, path: string, options: RequestOptions = {}, retried = false): Promise<T> {
  const upper = method.toUpperCase();
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    if (isRawBody(options.body)) {
      body = options.body;
    } else {
      body = JSON.stringify(options.body);
      headers["Content-Type"] = "application/json";
    }
  }
  if (!SAFE_METHODS.has(upper)) headers[CSRF_HEADER] = await csrfToken();

  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method: upper,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "Cannot reach the server.", { cause: String(error) });
  }

  if (!response.ok) {
    const error = await parseError(response);
    // A stale token (rotated at login, or a cookie that expired): fetch a new one and try once more.
    if (!retried && !SAFE_METHODS.has(upper) && isCsrfFailure(error)) {
      await csrfToken(true);
      return request<T>(method, path, options, true);
    }
    throw error;
  }
  if (response.status === 204 || response.status === 205) return undefined as T;
  const text = await response.text();
  if (!text) return undefined as T;
  const type = response.headers.get("Content-Type") ?? "";
  return (type.includes("json") || /^[[{]/.test(text.trim()) ? JSON.parse(text) : text) as T;
}

export const api = {
  get: <T>(path: string, options?: Omit<RequestOptions, "body">) => request<T>("GET", path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("POST", path, { ...options, body }),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("PUT", path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("PATCH", path, { ...options, body }),
  delete: <T = void>(path: string, options?: RequestOptions) => request<T>("DELETE", path, options),
  request,
};

/** A cursor-paginated list (docs/api.md "Lists"). */
export interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}
