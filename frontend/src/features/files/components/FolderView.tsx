import { useCallback, useMemo, useRef, useState, type InputHTMLAttributes } from "react";
import { useDropzone } from "react-dropzone";
import { useLocation, useNavigate } from "react-router";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { ShareDialog } from "@/components/ShareDialog";
import { errorMessage, isApiError } from "@/lib/api";
import { contentUrl, downloadUrl, useDeleteEntries, useListing, useMkdir, useMoveEntries } from "../api";
import { startDownload } from "../download";
import { useFilesSort } from "../hooks/useFilesSort";
import { useSelection } from "../hooks/useSelection";
import { breadcrumbs, childLocation, displayPath, filesRoute, joinUri, siblingUri, storageUri, type FilesLocation } from "../paths";
import { sortEntries } from "../sorting";
import type { Entry } from "../types";
import type { Uploads } from "../upload/useUploads";
import { Breadcrumbs } from "./Breadcrumbs";
import { FileTable } from "./FileTable";
import { LinksDialog } from "./LinksDialog";
import { MoveDialog } from "./MoveDialog";
import { NameDialog } from "./NameDialog";

type DialogName = "mkdir" | "rename" | "move" | "delete" | "share" | "links";

/** `<input webkitdirectory>`: picks a whole folder; each File has its `webkitRelativePath`. */
const FOLDER_INPUT = { webkitdirectory: "", directory: "" } as InputHTMLAttributes<HTMLInputElement>;

/**
 * One folder: breadcrumbs, the toolbar, the listing (sortable, paged, multi-select) inside the
 * drop zone, and the dialogs of its actions.
 */
export function FolderView({ location, uploads }: { location: FilesLocation; uploads: Uploads }) {
  const uri = storageUri(location);
  const listing = useListing(uri);
  const navigate = useNavigate();
  const { search } = useLocation();
  const [sort, toggleSort] = useFilesSort();
  const [dialog, setDialog] = useState<DialogName | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const mkdir = useMkdir();
  const rename = useMoveEntries();
  const remove = useDeleteEntries();

  const entries = useMemo(() => listing.data?.pages.flatMap((page) => page.results), [listing.data]);
  const sorted = useMemo(() => (entries ? sortEntries(entries, sort) : undefined), [entries, sort]);
  const selection = useSelection(uri, entries?.map((entry) => entry.uri) ?? []);
  const selected = sorted?.filter((entry) => selection.has(entry.uri)) ?? [];

  // What the listing says the user may do here. Unknown (not loaded, or an error such as a
  // folder that does not exist yet): let the server decide.
  const first = listing.data?.pages[0];
  const level = first ? first.my_level : undefined;
  const canonical = first?.uri ?? uri;
  const canWrite = level === undefined || level === "write" || level === "manage";
  // `null`: a folder above something shared deeper; its entries may allow more than it does.
  const canChangeItems = level !== "read";
  const canManage = level === undefined || level === null || level === "manage";

  const folderName = breadcrumbs(location).at(-1)?.label ?? "Home";
  const target = selected.length === 1 ? selected[0] : ({ uri: canonical, name: folderName, type: "dir" } as Pick<Entry, "uri" | "name" | "type">);

  const folderHref = (entry: Entry) => `${filesRoute(childLocation(location, entry.name))}${search}`;

  const open = (entry: Entry) => {
    if (entry.type === "dir") navigate(folderHref(entry));
    else startDownload(contentUrl(entry.uri), entry.name);
  };

  const onFiles = useCallback(
    (files: File[]) => {
      if (files.length === 0) return;
      if (!canWrite) {
        setNotice("You can only read this folder: uploads need the write level.");
        return;
      }
      setNotice(null);
      uploads.upload(uri, files);
    },
    [canWrite, uploads, uri],
  );

  const dropzone = useDropzone({ onDrop: onFiles, noClick: true, noKeyboard: true, useFsAccessApi: false, multiple: true });

  const download = () => {
    const items = selected.length ? selected : [target];
    for (const item of items) startDownload(downloadUrl(item), item.type === "file" ? item.name : undefined);
  };

  const closeDialog = () => setDialog(null);

  const files = selected.filter((entry) => entry.type === "file").length;
  const folders = selected.length - files;

  return (
    <>
      <Breadcrumbs location={location} />
      <p className="files-where muted">
        Path: <code data-testid="files-path" title={canonical}>{displayPath(location)}</code>
        {level ? <span className={`level level-${level}`}>you can {level}</span> : null}
        {level === null ? <span className="muted"> · showing only what was shared with you below this folder</span> : null}
      </p>

      <div className="files-toolbar" aria-label="File actions">
        <button type="button" className="button" onClick={() => setDialog("mkdir")} disabled={!canWrite}>
          New folder
        </button>
        <button type="button" className="button button-primary" onClick={dropzone.open} disabled={!canWrite}>
          Upload
        </button>
        <button type="button" className="button" onClick={() => folderInput.current?.click()} disabled={!canWrite}>
          Upload folder
        </button>
        <span className="toolbar-sep" aria-hidden="true" />
        <button type="button" className="button" onClick={download} title={selected.length ? "Download the selection (folders as zip)" : "Download this folder as a zip"}>
          Download
        </button>
        <button type="button" className="button" onClick={() => setDialog("rename")} disabled={selected.length !== 1 || !canChangeItems}>
          Rename
        </button>
        <button type="button" className="button" onClick={() => setDialog("move")} disabled={selected.length === 0 || !canChangeItems}>
          Move
        </button>
        <button type="button" className="button button-danger-outline" onClick={() => setDialog("delete")} disabled={selected.length === 0 || !canChangeItems}>
          Delete
        </button>
        <span className="toolbar-sep" aria-hidden="true" />
        <button type="button" className="button" onClick={() => setDialog("share")} disabled={!canManage || selected.length > 1} title="Share the selected item, or this folder">
          Share
        </button>
        <button type="button" className="button" onClick={() => setDialog("links")} disabled={!canManage || selected.length > 1} title="Links to the selected item, or to this folder">
          Links
        </button>
        <span className="files-selected muted" aria-live="polite">
          {selected.length ? `${selected.length} selected` : ""}
        </span>
      </div>
      <input ref={folderInput} type="file" multiple hidden {...FOLDER_INPUT} aria-label="Folder to upload" onChange={(event) => {
        onFiles(Array.from(event.target.files ?? []));
        event.target.value = "";
      }} />

      {notice ? (
        <p className="form-error" role="alert">
          {notice}
        </p>
      ) : null}
      {listing.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(listing.error)}
          {isApiError(listing.error, 404) && location.owner === null ? " Upload or create a folder here to make it." : ""}
        </p>
      ) : null}
      {remove.isError && dialog !== "delete" ? (
        <p className="form-error" role="alert">
          {errorMessage(remove.error)}
        </p>
      ) : null}

      <div {...dropzone.getRootProps({ className: `dropzone${dropzone.isDragActive ? " dropzone-active" : ""}` })} data-testid="dropzone">
        <input {...dropzone.getInputProps()} aria-label="Files to upload" />
        <FileTable
          entries={listing.isError && !listing.data ? [] : sorted}
          loading={listing.isPending}
          sort={sort}
          onSort={toggleSort}
          selection={selection}
          folderHref={folderHref}
          onOpen={open}
          empty={
            listing.isError ? (
              "Nothing to show."
            ) : (
              <span>
                <strong>This folder is empty.</strong> Drop files or folders here, or use Upload.
              </span>
            )
          }
        />
        {listing.hasNextPage ? (
          <div className="files-load-more">
            <button type="button" className="button" onClick={() => void listing.fetchNextPage()} disabled={listing.isFetchingNextPage}>
              {listing.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          </div>
        ) : null}
        {dropzone.isDragActive ? (
          <div className="dropzone-overlay" aria-hidden="true">
            Drop files or folders to upload them to <code>{displayPath(location)}</code>
          </div>
        ) : null}
      </div>
      {canWrite ? <p className="files-hint muted">Drag files or whole folders onto the list to upload them here; folders keep their structure.</p> : null}

      <NameDialog
        open={dialog === "mkdir"}
        title="New folder"
        label="Folder name"
        submitLabel="Create"
        busy={mkdir.isPending}
        error={mkdir.error}
        onClose={() => {
          mkdir.reset();
          closeDialog();
        }}
        onSubmit={(name) => mkdir.mutate(joinUri(uri, name), { onSuccess: closeDialog })}
      />
      <NameDialog
        open={dialog === "rename" && selected.length === 1}
        title={`Rename “${selected[0]?.name ?? ""}”`}
        label="New name"
        submitLabel="Rename"
        initial={selected[0]?.name}
        busy={rename.isPending}
        error={rename.error}
        onClose={() => {
          rename.reset();
          closeDialog();
        }}
        onSubmit={(name) => {
          const entry = selected[0];
          if (!entry) return;
          if (name === entry.name) return closeDialog();
          rename.mutate([{ src: entry.uri, dst: siblingUri(entry.uri, name) }], {
            onSuccess: () => {
              selection.clear();
              closeDialog();
            },
          });
        }}
      />
      <MoveDialog open={dialog === "move"} entries={selected} from={location} onClose={closeDialog} onMoved={selection.clear} />
      <ConfirmDialog
        open={dialog === "delete"}
        title={selected.length === 1 ? `Delete “${selected[0].name}”?` : `Delete ${selected.length} items?`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        error={remove.isError ? errorMessage(remove.error) : null}
        onCancel={() => {
          remove.reset();
          closeDialog();
        }}
        onConfirm={() =>
          remove.mutate(selected, {
            onSuccess: () => {
              selection.clear();
              closeDialog();
            },
          })
        }
      >
        <p>
          {describeCount(files, "file")}
          {files && folders ? " and " : ""}
          {describeCount(folders, "folder")} will be deleted for good.
          {folders ? " Folders are deleted recursively, with everything in them." : ""}
        </p>
        <ul className="delete-list">
          {selected.slice(0, 8).map((entry) => (
            <li key={entry.uri} className="files-mono">
              {entry.name}
              {entry.type === "dir" ? "/" : ""}
            </li>
          ))}
          {selected.length > 8 ? <li className="muted">and {selected.length - 8} more</li> : null}
        </ul>
      </ConfirmDialog>
      <ShareDialog uri={target.uri} open={dialog === "share"} onClose={closeDialog} />
      <LinksDialog uri={target.uri} name={target.name} open={dialog === "links"} canManage={canManage} onClose={closeDialog} />
    </>
  );
}

function describeCount(count: number, noun: string): string {
  if (!count) return "";
  return count === 1 ? `1 ${noun}` : `${count} ${noun}s`;
}
