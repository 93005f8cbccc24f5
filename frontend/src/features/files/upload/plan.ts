/**
 * What to create for a drop or a pick: each file's path relative to the folder it was dropped
 * into, the storage URI it goes to, and the folders to make first.
 *
 * Where the relative path comes from:
 * - `<input webkitdirectory>` (the folder picker): `file.webkitRelativePath` = `dataset/sub/b.txt`;
 * - a drop, through react-dropzone's file-selector: `file.relativePath` / `file.path` =
 *   `/dataset/sub/b.txt` for a dropped folder (from the entry's `fullPath` or the directory
 *   handle), `./a.txt` for a loose file (or the `webkitRelativePath` when the File has one);
 * - anything else: the file's name.
 */
import { joinUri } from "../paths";

/** A File as react-dropzone hands it over. */
export type DroppedFile = File & { path?: string; relativePath?: string };

export interface PlannedFile {
  file: File;
  /** `dataset/sub/b.txt` (never starts with `/` or `./`, no empty, `.` or `..` segments). */
  relativePath: string;
  /** Where it goes: `<folder uri>/<relativePath>`. */
  uri: string;
}

export interface UploadPlan {
  /** The folder the files were dropped into. */
  folderUri: string;
  files: PlannedFile[];
  /** Folders to create (with parents) before the files: the deepest ones only. */
  dirs: string[];
}

/** `/dataset/./sub//b.txt` → `dataset/sub/b.txt`; `..` segments are dropped, never followed. */
export function normalizeRelativePath(path: string): string {
  return path
    .replace(/\\/g, "/")
    .split("/")
    .filter((segment) => segment !== "" && segment !== "." && segment !== "..")
    .join("/");
}

/** The path of `file` below the folder it was dropped into (its name at the least). */
export function relativePathOf(file: DroppedFile): string {
  for (const candidate of [file.webkitRelativePath, file.relativePath, file.path]) {
    if (typeof candidate === "string") {
      const clean = normalizeRelativePath(candidate);
      // A path must end with the file's own name (an absolute path set by Electron would not be
      // relative; `path` of a plain File is whatever a library put there).
      if (clean && (clean === file.name || clean.endsWith(`/${file.name}`))) return clean;
    }
  }
  return normalizeRelativePath(file.name) || "unnamed";
}

/** Every folder above each file, deepest ones only (`mkdir` with parents creates the rest). */
export function leafFolders(relativePaths: string[]): string[] {
  const folders = new Set<string>();
  for (const path of relativePaths) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join("/"));
  }
  const all = [...folders].sort();
  return all.filter((folder) => !all.some((other) => other !== folder && other.startsWith(`${folder}/`)));
}

/** Plan the upload of `files` into the folder `folderUri`; a path given twice keeps the last file. */
export function planUpload(folderUri: string, files: readonly DroppedFile[]): UploadPlan {
  const byPath = new Map<string, PlannedFile>();
  for (const file of files) {
    const relativePath = relativePathOf(file);
    byPath.delete(relativePath);
    byPath.set(relativePath, { file, relativePath, uri: joinUri(folderUri, relativePath) });
  }
  const planned = [...byPath.values()];
  return {
    folderUri,
    files: planned,
    dirs: leafFolders(planned.map((p) => p.relativePath)).map((dir) => joinUri(folderUri, dir)),
  };
}
