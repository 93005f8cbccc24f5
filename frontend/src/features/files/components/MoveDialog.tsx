import { useId, useState, type FormEvent } from "react";
import { Dialog } from "@/components/Dialog";
import { errorMessage } from "@/lib/api";
import { useListing, useMoveEntries } from "../api";
import { breadcrumbs, childLocation, displayPath, joinUri, parentLocation, storageUri, typedPathToUri, type FilesLocation } from "../paths";
import type { Entry } from "../types";
import { FileIcon } from "./FileIcon";

export interface MoveDialogProps {
  open: boolean;
  entries: Entry[];
  /** Where the picker starts: the folder the entries are in. */
  from: FilesLocation;
  onClose: () => void;
  onMoved?: () => void;
}

/** Move the selected entries into a folder, typed (`/a/b`, `~alice/x`, `storage:…`) or picked. */
export function MoveDialog({ open, entries, from, onClose, onMoved }: MoveDialogProps) {
  const formId = useId();
  const move = useMoveEntries();
  const close = () => {
    move.reset();
    onClose();
  };
  const title = entries.length === 1 ? `Move “${entries[0].name}”` : `Move ${entries.length} items`;
  return (
    <Dialog
      open={open}
      onClose={close}
      title={title}
      label="Move"
      size="md"
      footer={
        <>
          <button type="button" className="button" onClick={close} disabled={move.isPending}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={move.isPending}>
            {move.isPending ? "Moving…" : "Move"}
          </button>
        </>
      }
    >
      {open ? (
        <MoveForm
          formId={formId}
          entries={entries}
          from={from}
          error={move.error}
          onSubmit={(destination) =>
            move.mutate(
              entries.map((entry) => ({ src: entry.uri, dst: joinUri(destination, entry.name) })),
              {
                onSuccess: () => {
                  close();
                  onMoved?.();
                },
              },
            )
          }
        />
      ) : null}
    </Dialog>
  );
}

function MoveForm({ formId, entries, from, error, onSubmit }: { formId: string; entries: Entry[]; from: FilesLocation; error: unknown; onSubmit: (destinationUri: string) => void }) {
  const inputId = useId();
  const [at, setAt] = useState<FilesLocation>(from);
  const [text, setText] = useState(displayPath(from));
  const [problem, setProblem] = useState<string | null>(null);
  const listing = useListing(storageUri(at));
  const moving = new Set(entries.map((entry) => entry.uri));
  const folders = listing.data?.pages.flatMap((page) => page.results).filter((entry) => entry.type === "dir" && !moving.has(entry.uri));
  const up = parentLocation(at);

  const go = (location: FilesLocation) => {
    setAt(location);
    setText(displayPath(location));
    setProblem(null);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const destination = typedPathToUri(text);
    if (!destination) {
      setProblem("Type a folder: /a/b in your home, ~alice/x in alice's, or a storage: URI.");
      return;
    }
    setProblem(null);
    onSubmit(destination);
  };

  return (
    <form id={formId} className="dialog-form move-form" onSubmit={submit} noValidate>
      <div className="field">
        <label className="field-label" htmlFor={inputId}>
          Destination folder
        </label>
        <input id={inputId} className="input files-mono" value={text} onChange={(event) => setText(event.target.value)} data-autofocus spellCheck={false} />
        <small className="muted">/a/b is in your home, ~alice/x in alice's; or pick a folder below.</small>
      </div>

      <div className="folder-picker">
        <div className="folder-picker-head">
          <button type="button" className="button button-small" onClick={() => up && go(up)} disabled={!up}>
            Up
          </button>
          <span className="folder-picker-path">
            {breadcrumbs(at).map((crumb, index) => (
              <span key={index}>
                {index > 0 ? <span className="breadcrumb-sep">/</span> : null}
                {crumb.current ? (
                  <strong>{crumb.label}</strong>
                ) : (
                  <button type="button" className="files-link-button" onClick={() => go(crumb.location)}>
                    {crumb.label}
                  </button>
                )}
              </span>
            ))}
          </span>
        </div>
        <ul className="folder-picker-list" aria-label="Folders">
          {listing.isPending ? <li className="muted">Loading…</li> : null}
          {listing.isError ? <li className="muted">{errorMessage(listing.error)}</li> : null}
          {folders?.length === 0 ? <li className="muted">No folders here.</li> : null}
          {folders?.map((folder) => (
            <li key={folder.uri}>
              <button type="button" className="folder-picker-item" onClick={() => go(childLocation(at, folder.name))}>
                <FileIcon type="dir" name={folder.name} />
                {folder.name}
              </button>
            </li>
          ))}
          {listing.hasNextPage ? (
            <li>
              <button type="button" className="files-link-button" onClick={() => void listing.fetchNextPage()} disabled={listing.isFetchingNextPage}>
                Load more
              </button>
            </li>
          ) : null}
        </ul>
      </div>

      {problem ? (
        <p className="form-error" role="alert">
          {problem}
        </p>
      ) : error ? (
        <p className="form-error" role="alert">
          {errorMessage(error)}
        </p>
      ) : null}
    </form>
  );
}
