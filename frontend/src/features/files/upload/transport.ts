/**
 * The upload queue's requests, over HTTP (docs/storage.md): `PUT content/` and the resumable
 * protocol under `uploads/`. Bodies go through XHR (`lib/xhr.ts`) for their upload progress.
 */
import { api } from "@/lib/api";
import { xhrRequest } from "@/lib/xhr";
import type { UploadSession } from "../types";
import type { UploadTransport } from "./queue";

const RAW = "application/octet-stream";

export const httpTransport: UploadTransport = {
  async mkdir(uri) {
    await api.post("/storage/mkdir/", { uri, parents: true });
  },

  async put(uri, file, onProgress, signal) {
    await xhrRequest("PUT", "/storage/content/", {
      query: { uri, overwrite: 1 },
      body: file,
      headers: { "Content-Type": RAW },
      onUploadProgress: (sent) => onProgress(sent),
      signal,
    });
  },

  async createSession(uri, size, signal) {
    const session = await api.post<UploadSession>("/storage/uploads/", { uri, size, overwrite: true }, { signal });
    return { url: session.url, offset: session.offset };
  },

  async sessionOffset(url, signal) {
    const answer = await xhrRequest("HEAD", url, { signal });
    const offset = Number(answer.header("Upload-Offset"));
    if (!Number.isFinite(offset)) throw new Error("The server did not say where the upload is (no Upload-Offset).");
    return offset;
  },

  async patch(url, offset, chunk, onProgress, signal) {
    const answer = await xhrRequest<UploadSession>("PATCH", url, {
      body: chunk,
      headers: { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" },
      onUploadProgress: (sent) => onProgress(sent),
      signal,
    });
    const header = Number(answer.header("Upload-Offset"));
    return Number.isFinite(header) && answer.header("Upload-Offset") !== null ? header : answer.data.offset;
  },

  async deleteSession(url) {
    await api.delete(url);
  },
};
