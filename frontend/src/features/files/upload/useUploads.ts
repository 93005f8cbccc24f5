import { useQueryClient } from "@tanstack/react-query";
import { createContext, createElement, useContext, useEffect, useRef, useSyncExternalStore, type ReactNode } from "react";
import { fileKeys } from "../api";
import { planUpload, type DroppedFile } from "./plan";
import { UploadQueue, type UploadSnapshot } from "./queue";
import { httpTransport } from "./transport";

/**
 * One queue for the whole page session: uploads go on while the user browses other folders or
 * tabs, and the Files tab shows them again when it comes back. Tests provide their own.
 */
let sharedQueue: UploadQueue | null = null;
const QueueContext = createContext<UploadQueue | null>(null);

export function UploadQueueProvider({ queue, children }: { queue: UploadQueue; children: ReactNode }) {
  return createElement(QueueContext.Provider, { value: queue }, children);
}

export function useUploadQueue(): UploadQueue {
  const provided = useContext(QueueContext);
  if (provided) return provided;
  sharedQueue ??= new UploadQueue(httpTransport);
  return sharedQueue;
}

export interface Uploads {
  state: UploadSnapshot;
  /** Queue files (a drop, a pick) for the folder `folderUri`, keeping their relative paths. */
  upload: (folderUri: string, files: readonly DroppedFile[]) => void;
  cancel: (id: number) => void;
  cancelAll: () => void;
  resume: (id: number) => void;
  clearFinished: () => void;
}

/** The queue's state, re-rendered as it changes, and its commands. */
export function useUploads(): Uploads {
  const queue = useUploadQueue();
  const state = useSyncExternalStore(queue.subscribe, queue.getSnapshot, queue.getSnapshot);
  return {
    state,
    upload: (folderUri, files) => void queue.add(planUpload(folderUri, files)),
    cancel: (id) => queue.cancel(id),
    cancelAll: () => queue.cancelAll(),
    resume: (id) => queue.resume(id),
    clearFinished: () => queue.clearFinished(),
  };
}

/**
 * While the Files tab is open: warn before leaving the page mid-upload, resume what the network
 * broke when the browser is back online, and re-read listings when the queue is done (events
 * refresh them meanwhile; this covers a live-updates connection that is down).
 */
export function useUploadLifecycle(state: UploadSnapshot): void {
  const queue = useUploadQueue();
  const queryClient = useQueryClient();
  const wasActive = useRef(state.active);

  useEffect(() => {
    if (wasActive.current && !state.active) void queryClient.invalidateQueries({ queryKey: fileKeys.lists() });
    wasActive.current = state.active;
  }, [state.active, queryClient]);

  useEffect(() => {
    if (!state.active) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [state.active]);

  useEffect(() => {
    const onOnline = () => queue.resumeNetworkFailures();
    window.addEventListener("online", onOnline);
    return () => window.removeEventListener("online", onOnline);
  }, [queue]);
}
