/**
 * Requests that report upload progress: `fetch` cannot (yet, portably) tell how much of a request
 * body has been sent, `XMLHttpRequest.upload.onprogress` can. Same rules as `lib/api.ts`: paths
 * relative to `/api/v1`, the session cookie, `X-CSRFToken` on unsafe methods (one retry with a
 * fresh token on a CSRF refusal), any non-2xx answer thrown as an {@link ApiError}, a network
 * failure as `status 0, code "network_error"`, and an abort as a `DOMException("AbortError")`.
 */
import { ApiError, apiErrorFromText, apiUrl, csrfHeaders, isCsrfFailure, type Query } from "./api";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

export interface XhrOptions {
  query?: Query;
  /** Sent as it is (a `Blob`/`File` streams from disk; a string or buffer as bytes). */
  body?: XMLHttpRequestBodyInit | null;
  headers?: Record<string, string>;
  /** Bytes of the body sent so far, and the body's size. */
  onUploadProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

export interface XhrResponse<T> {
  status: number;
  /** Parsed JSON when the answer is JSON, the text otherwise, `undefined` when empty. */
  data: T;
  header: (name: string) => string | null;
}

function abortError(): DOMException {
  return new DOMException("The request was aborted.", "AbortError");
}

function sendOnce<T>(method: string, url: string, options: XhrOptions, headers: Record<string, string>): Promise<XhrResponse<T>> {
  return new Promise((resolve, reject) => {
    const { signal, onUploadProgress, body } = options;
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onUploadProgress && xhr.upload) {
      xhr.upload.onprogress = (event) => onUploadProgress(event.loaded, event.lengthComputable ? event.total : 0);
    }
    const onAbort = () => xhr.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);

    xhr.onload = () => {
      done();
      const text = xhr.responseText ?? "";
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(apiErrorFromText(xhr.status, xhr.statusText, text));
        return;
      }
      let data: unknown = undefined;
      if (text) {
        const type = xhr.getResponseHeader("Content-Type") ?? "";
        try {
          data = type.includes("json") || /^[[{]/.test(text.trim()) ? JSON.parse(text) : text;
        } catch {
          data = text;
        }
      }
      resolve({ status: xhr.status, data: data as T, header: (name) => xhr.getResponseHeader(name) });
    };
    xhr.onerror = () => {
      done();
      reject(new ApiError(0, "network_error", "Cannot reach the server.", null));
    };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => {
      done();
      reject(abortError());
    };
    xhr.send(body ?? null);
  });
}

export async function xhrRequest<T = unknown>(method: string, path: string, options: XhrOptions = {}): Promise<XhrResponse<T>> {
  const upper = method.toUpperCase();
  const url = apiUrl(path, options.query);
  const base = { Accept: "application/json", ...options.headers };
  if (SAFE_METHODS.has(upper)) return sendOnce<T>(upper, url, options, base);
  try {
    return await sendOnce<T>(upper, url, options, { ...base, ...(await csrfHeaders()) });
  } catch (error) {
    if (!(error instanceof ApiError) || !isCsrfFailure(error)) throw error;
    return sendOnce<T>(upper, url, options, { ...base, ...(await csrfHeaders(true)) });
  }
}
