/** The storage API's shapes (docs/storage.md "Objects in answers"). */

export type Level = "read" | "write" | "manage";
export type EntryType = "file" | "dir";

/** A file or folder: `size` is null for folders, `mtime` for folders on S3. */
export interface Entry {
  name: string;
  /** Canonical long form, `storage://default/bob/data/a.txt`. */
  uri: string;
  type: EntryType;
  size: number | null;
  mtime: string | null;
}

/** One page of `GET storage/list/`. */
export interface Listing {
  uri: string;
  /** What the caller may do here; null while navigating down to something shared deeper. */
  my_level: Level | null;
  results: Entry[];
  next_cursor: string | null;
  next: string | null;
  previous: null;
}

/** A resumable upload session (`POST storage/uploads/`). */
export interface UploadSession {
  id: string;
  uri: string;
  size: number;
  offset: number;
  overwrite: boolean;
  complete: boolean;
  created_at: string;
  expires_at: string;
  /** Site-relative: `/api/v1/storage/uploads/<id>/`. */
  url: string;
}

export interface ShareLink {
  id: number;
  uri: string;
  kind: "permanent" | "temporary";
  token: string;
  /** Absolute, as the server sees its own host; the SPA builds its own from `token`. */
  url: string;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  active: boolean;
}

/** A grant from `GET /api/v1/shares/with-me/?scheme=storage`. */
export interface StorageGrant {
  uri: string;
  principal: { kind: "user" | "group"; name: string };
  level: Level;
  inherited: boolean;
}
