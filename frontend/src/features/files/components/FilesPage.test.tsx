import { QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { useRealtimeEvents } from "@/app/realtime";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { json, mockFetch, type RecordedCall, type Reply } from "@/test/fetch";
import { testQueryClient } from "@/test/render";
import type { Entry, Level, Listing, ShareLink } from "../types";
import { UploadQueue, type UploadTransport } from "../upload/queue";
import { UploadQueueProvider } from "../upload/useUploads";
import { FilesPage } from "./FilesPage";

function WithRealtime({ children }: { children: ReactNode }) {
  useRealtimeEvents();
  return <>{children}</>;
}

/** A transport that records what it is asked and succeeds at once. */
function recordingTransport() {
  const calls: string[] = [];
  const transport: UploadTransport = {
    mkdir: async (uri) => void calls.push(`mkdir ${uri}`),
    put: async (uri, file, onProgress) => {
      calls.push(`put ${uri} ${await file.text()}`);
      onProgress(file.size);
    },
    createSession: async (uri, size) => (calls.push(`create ${uri} ${size}`), { url: "/u/1/", offset: 0 }),
    sessionOffset: async () => 0,
    patch: async (_url, offset, chunk) => offset + chunk.size,
    deleteSession: async () => undefined,
  };
  return { calls, transport };
}

function renderFiles(path = "/files", queue = new UploadQueue(recordingTransport().transport)) {
  const router = createMemoryRouter(
    [
      {
        path: "/files/*",
        element: (
          <WithRealtime>
            <UploadQueueProvider queue={queue}>
              <FilesPage />
            </UploadQueueProvider>
          </WithRealtime>
        ),
      },
    ],
    { initialEntries: [path] },
  );
  render(
    <QueryClientProvider client={testQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

const BASE = "storage://default/bob";

function entry(path: string, type: "file" | "dir" = "file", size: number | null = 10, mtime: string | null = "2024-05-01T10:00:00Z"): Entry {
  return { name: path.split("/").at(-1)!, uri: `${BASE}/${path}`, type, size: type === "dir" ? null : size, mtime };
}

function listing(uri: string, results: Entry[], level: Level | null = "manage", nextCursor: string | null = null): Listing {
  return { uri, my_level: level, results, next_cursor: nextCursor, next: nextCursor ? `http://testserver/api/v1/storage/list/?cursor=${nextCursor}` : null, previous: null };
}

/** `GET storage/list/` answered per `uri` query parameter. */
function lists(table: Record<string, Listing | Reply | ((call: RecordedCall) => Reply)>) {
  return (call: RecordedCall): Reply => {
    const found = table[call.query.get("uri") ?? ""];
    if (!found) return json({ error: { code: "not_found", message: `No such folder: ${call.query.get("uri")}` } }, 404);
    if (typeof found === "function") return found(call);
    return "results" in found ? json(found) : found;
  };
}

const rowNames = () => screen.queryAllByTestId("file-row").map((row) => row.getAttribute("data-name"));
const row = (name: string) => screen.getAllByTestId("file-row").find((r) => r.getAttribute("data-name") === name)!;

describe("Files: browsing", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    document.cookie = "csrftoken=tok; path=/";
  });

  it("lists a folder with breadcrumbs, types and human sizes; opens folders and downloads files", async () => {
    const clicks: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(`${this.getAttribute("href")} ${this.download}`);
    });
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({
        "storage:data": listing(`${BASE}/data`, [entry("data/train", "dir"), entry("data/a.csv", "file", 1536)]),
        "storage:data/train": listing(`${BASE}/data/train`, [entry("data/train/x.npy", "file", 3 * 1024 * 1024)]),
      }),
    });
    const user = userEvent.setup();
    const router = renderFiles("/files/data");

    await waitFor(() => expect(rowNames()).toEqual(["train", "a.csv"]));
    expect(screen.getByTestId("files-path")).toHaveTextContent("/data");
    const crumbs = screen.getByRole("navigation", { name: "Breadcrumb" });
    expect(within(crumbs).getByRole("link", { name: "Home" })).toHaveAttribute("href", "/files");
    expect(within(crumbs).getByText("data")).toHaveAttribute("aria-current", "page");
    expect(row("a.csv")).toHaveTextContent("1.5 KiB");
    expect(row("a.csv")).toHaveTextContent("(file)");
    expect(row("train")).toHaveTextContent("(folder)");
    expect(within(row("a.csv")).getByRole("link", { name: "a.csv" })).toHaveAttribute(
      "href",
      `/api/v1/storage/content/?uri=${encodeURIComponent(`${BASE}/data/a.csv`)}`,
    );

    // Enter on a file downloads it; a double click on a folder opens it.
    row("a.csv").focus();
    await user.keyboard("{Enter}");
    expect(clicks).toEqual([`/api/v1/storage/content/?uri=${encodeURIComponent(`${BASE}/data/a.csv`)} a.csv`]);
    await user.dblClick(row("train"));
    await waitFor(() => expect(router.state.location.pathname).toBe("/files/data/train"));
    await waitFor(() => expect(rowNames()).toEqual(["x.npy"]));
    expect(row("x.npy")).toHaveTextContent("3 MiB");
    expect(calls.filter((c) => c.path === "/api/v1/storage/list/").map((c) => c.query.get("uri"))).toEqual(["storage:data", "storage:data/train"]);
  });

  it("re-reads the listing when /ws/events/ says the folder changed (storage.changed)", async () => {
    let results = [entry("a.txt")];
    mockFetch({ "GET /api/v1/storage/list/": lists({ "storage:": () => json(listing(BASE, results)) }) });
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual(["a.txt"]));

    const socket = FakeWebSocket.last;
    expect(socket.url).toBe("ws://localhost:5173/ws/events/");
    act(() => {
      socket.open();
      socket.receive({ type: "state", watching: [`${BASE}`] });
    });
    results = [entry("a.txt"), entry("b.txt")];
    act(() => socket.receive({ type: "storage.changed", uri: BASE, action: "upload", path: `${BASE}/b.txt` }));
    await waitFor(() => expect(rowNames()).toEqual(["a.txt", "b.txt"]));
  });

  it("sorts folders first, by name, size or modification time (kept in the URL)", async () => {
    mockFetch({
      "GET /api/v1/storage/list/": lists({
        "storage:": listing(BASE, [
          entry("b.bin", "file", 300, "2024-01-03T00:00:00Z"),
          entry("c.bin", "file", 100, "2024-01-01T00:00:00Z"),
          entry("dir", "dir", null, null),
          entry("a.bin", "file", 200, "2024-01-02T00:00:00Z"),
        ]),
      }),
    });
    const user = userEvent.setup();
    const router = renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual(["dir", "a.bin", "b.bin", "c.bin"]));

    await user.click(screen.getByRole("button", { name: "Size" }));
    expect(rowNames()).toEqual(["dir", "b.bin", "a.bin", "c.bin"]); // biggest first
    expect(router.state.location.search).toBe("?sort=size&dir=desc");
    expect(screen.getByRole("columnheader", { name: /Size/ })).toHaveAttribute("aria-sort", "descending");
    await user.click(screen.getByRole("button", { name: "Size" }));
    expect(rowNames()).toEqual(["dir", "c.bin", "a.bin", "b.bin"]);
    await user.click(screen.getByRole("button", { name: "Modified" }));
    expect(rowNames()).toEqual(["dir", "b.bin", "a.bin", "c.bin"]); // newest first
    await user.click(screen.getByRole("button", { name: "Name" }));
    expect(rowNames()).toEqual(["dir", "a.bin", "b.bin", "c.bin"]);
    expect(router.state.location.search).toBe("");
  });

  it("pages a big folder with Load more (the cursor goes back to the server)", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": (call) =>
        call.query.get("cursor") === "page2"
          ? json(listing(BASE, [entry("c.txt")]))
          : json(listing(BASE, [entry("a.txt"), entry("b.txt")], "manage", "page2")),
    });
    const user = userEvent.setup();
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual(["a.txt", "b.txt"]));
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(rowNames()).toEqual(["a.txt", "b.txt", "c.txt"]));
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    const pages = calls.filter((c) => c.path === "/api/v1/storage/list/");
    expect(pages.map((c) => [c.query.get("uri"), c.query.get("cursor"), c.query.get("limit")])).toEqual([
      ["storage:", null, "100"],
      ["storage:", "page2", "100"],
    ]);
  });

  it("shows another user's storage from /files/~alice/…, read-only when shared at read", async () => {
    const alice = "storage://default/alice";
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({
        "storage:/alice/data": json({ ...listing(`${alice}/data`, [{ ...entry("x"), uri: `${alice}/data/x` }], "read") }),
      }),
    });
    renderFiles("/files/~alice/data");
    await waitFor(() => expect(rowNames()).toEqual(["x"]));
    expect(calls[0].query.get("uri")).toBe("storage:/alice/data");
    expect(screen.getByTestId("files-path")).toHaveTextContent("/~alice/data");
    const crumbs = screen.getByRole("navigation", { name: "Breadcrumb" });
    expect(within(crumbs).getByRole("link", { name: "~alice" })).toHaveAttribute("href", "/files/~alice");
    for (const name of ["New folder", "Upload", "Share", "Links"]) expect(screen.getByRole("button", { name, exact: true } as never)).toBeDisabled();
    expect(screen.getByRole("button", { name: "Download" })).toBeEnabled();
  });

  it("shows the API's error, and still offers to upload into a folder that does not exist yet", async () => {
    mockFetch({ "GET /api/v1/storage/list/": lists({}) });
    renderFiles("/files/datasets/cifar");
    expect(await screen.findByRole("alert")).toHaveTextContent("No such folder: storage:datasets/cifar");
    expect(screen.getByTestId("files-path")).toHaveTextContent("/datasets/cifar");
    expect(screen.getByRole("button", { name: "Upload" })).toBeEnabled();
  });
});

describe("Files: actions", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    document.cookie = "csrftoken=tok; path=/";
  });

  it("New folder, Rename and Move send the documented requests; errors show in the dialog", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, [entry("a.txt"), entry("b.txt"), entry("dest", "dir")]), "storage:dest": listing(`${BASE}/dest`, [entry("dest/inner", "dir")]) }),
      "POST /api/v1/storage/mkdir/": (call) =>
        (call.body as { uri: string }).uri === "storage:dest"
          ? json({ error: { code: "conflict", message: "storage://default/bob/dest exists already" } }, 409)
          : json(entry("new", "dir"), 201),
      "POST /api/v1/storage/move/": json(entry("x")),
    });
    const user = userEvent.setup();
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toHaveLength(3));

    await user.click(screen.getByRole("button", { name: "New folder" }));
    let dialog = screen.getByRole("dialog", { name: "New folder" });
    await user.type(within(dialog).getByLabelText("Folder name"), "dest");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("exists already");
    await user.clear(within(dialog).getByLabelText("Folder name"));
    await user.type(within(dialog).getByLabelText("Folder name"), "new");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.filter((c) => c.path === "/api/v1/storage/mkdir/").map((c) => c.body)).toEqual([
      { uri: "storage:dest", parents: false },
      { uri: "storage:new", parents: false },
    ]);

    await user.click(row("a.txt"));
    expect(screen.getByRole("button", { name: "Rename" })).toBeEnabled();
    await user.click(screen.getByRole("button", { name: "Rename" }));
    dialog = screen.getByRole("dialog", { name: /Rename/ });
    await user.clear(within(dialog).getByLabelText("New name"));
    await user.type(within(dialog).getByLabelText("New name"), "renamed.txt");
    await user.click(within(dialog).getByRole("button", { name: "Rename" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.find((c) => c.path === "/api/v1/storage/move/")?.body).toEqual({ src: `${BASE}/a.txt`, dst: `${BASE}/renamed.txt` });

    // Two files into a folder picked in the dialog.
    await user.click(within(row("a.txt")).getByRole("checkbox"));
    await user.click(within(row("b.txt")).getByRole("checkbox"));
    expect(screen.getByText("2 selected")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Move" }));
    dialog = screen.getByRole("dialog", { name: "Move" });
    await user.click(await within(dialog).findByRole("button", { name: "dest" }));
    expect(within(dialog).getByLabelText("Destination folder")).toHaveValue("/dest");
    expect(await within(dialog).findByRole("button", { name: "inner" })).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Move" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.filter((c) => c.path === "/api/v1/storage/move/").slice(1).map((c) => c.body)).toEqual([
      { src: `${BASE}/a.txt`, dst: "storage:dest/a.txt" },
      { src: `${BASE}/b.txt`, dst: "storage:dest/b.txt" },
    ]);
  });

  it("Delete asks first, says how many and that folders go recursively, then deletes each", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, [entry("a.txt"), entry("dir", "dir"), entry("keep.txt")]) }),
      "POST /api/v1/storage/delete/": { status: 204 },
    });
    const user = userEvent.setup();
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toHaveLength(3));
    expect(screen.getByRole("button", { name: "Delete" })).toBeDisabled();

    await user.click(within(row("a.txt")).getByRole("checkbox"));
    await user.click(within(row("dir")).getByRole("checkbox"));
    await user.click(screen.getByRole("button", { name: "Delete" }));
    const confirm = screen.getByRole("alertdialog", { name: "Delete 2 items?" });
    expect(confirm).toHaveTextContent("1 file and 1 folder will be deleted for good.");
    expect(confirm).toHaveTextContent("Folders are deleted recursively");
    expect(calls.some((c) => c.path === "/api/v1/storage/delete/")).toBe(false);
    await user.click(within(confirm).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(calls.filter((c) => c.path === "/api/v1/storage/delete/").map((c) => c.body)).toEqual([
      { uri: `${BASE}/dir`, recursive: true },
      { uri: `${BASE}/a.txt`, recursive: false },
    ]);
  });

  it("Links: a temporary link for a chosen period, a permanent one, copy and revoke", async () => {
    const token = "tok_abc-123";
    let links: ShareLink[] = [];
    const made = (id: number, expires: string | null): ShareLink => ({
      id,
      uri: `${BASE}/a.txt`,
      kind: expires ? "temporary" : "permanent",
      token: `${token}${id}`,
      url: `http://internal:8000/s/${token}${id}/`,
      created_by: "bob",
      created_at: "2024-05-01T10:00:00Z",
      expires_at: expires,
      revoked_at: null,
      active: true,
    });
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, [entry("a.txt")]) }),
      "GET /api/v1/storage/links/": () => json({ results: links }),
      "POST /api/v1/storage/links/": (call) => {
        const body = call.body as { expires_in?: number };
        const link = made(links.length + 1, body.expires_in ? "2024-05-01T11:00:00Z" : null);
        links = [link, ...links];
        return json(link, 201);
      },
      "DELETE /api/v1/storage/links/1/": () => {
        links = links.filter((l) => l.id !== 1);
        return { status: 204 };
      },
    });
    const user = userEvent.setup(); // with a clipboard of its own
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual(["a.txt"]));
    await user.click(row("a.txt"));
    await user.click(screen.getByRole("button", { name: "Links" }));

    const dialog = screen.getByRole("dialog", { name: "Links" });
    expect(await within(dialog).findByText("No links yet.")).toBeInTheDocument();
    expect(calls.find((c) => c.path === "/api/v1/storage/links/")?.query.get("uri")).toBe(`${BASE}/a.txt`);
    await user.selectOptions(within(dialog).getByLabelText("Expires in"), "1 hour");
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    const rows = await within(dialog).findAllByTestId("link-row");
    expect(calls.find((c) => c.method === "POST" && c.path === "/api/v1/storage/links/")?.body).toEqual({ uri: `${BASE}/a.txt`, expires_in: 3600 });
    expect(rows[0]).toHaveTextContent(`http://localhost:5173/s/${token}1/`);
    expect(rows[0]).toHaveTextContent("temporary");
    expect(rows[0]).toHaveTextContent("bob");

    await user.click(within(dialog).getByRole("button", { name: "Get Permanent Link" }));
    await waitFor(() => expect(within(dialog).getAllByTestId("link-row")).toHaveLength(2));
    expect(calls.filter((c) => c.method === "POST" && c.path === "/api/v1/storage/links/").at(-1)?.body).toEqual({ uri: `${BASE}/a.txt` });
    const permanent = within(dialog).getAllByTestId("link-row")[0];
    expect(permanent).toHaveTextContent("never");

    await user.click(within(permanent).getByRole("button", { name: "Copy" }));
    expect(await navigator.clipboard.readText()).toBe(`http://localhost:5173/s/${token}2/`);
    expect(within(permanent).getByRole("status")).toHaveTextContent("Copied");

    const temporary = within(dialog).getAllByTestId("link-row")[1];
    await user.click(within(temporary).getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(within(dialog).getAllByTestId("link-row")).toHaveLength(1));
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/storage/links/1/")).toBe(true);
  });

  it("Links: a custom expiry is sent as expires_at; a past one is refused here", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, [entry("a.txt")]) }),
      "GET /api/v1/storage/links/": json({ results: [] }),
      "POST /api/v1/storage/links/": (call) => json({ error: { code: "invalid", message: `refused ${JSON.stringify(call.body)}` } }, 400),
    });
    const user = userEvent.setup();
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual(["a.txt"]));
    await user.click(screen.getByRole("button", { name: "Links" })); // nothing selected: the folder itself
    const dialog = screen.getByRole("dialog", { name: "Links" });
    expect(dialog).toHaveTextContent(BASE);
    await user.selectOptions(within(dialog).getByLabelText("Expires in"), "Custom…");
    fireEvent.change(within(dialog).getByLabelText("Expires at"), { target: { value: "2001-01-01T10:00" } });
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(within(dialog).getByRole("alert")).toHaveTextContent("at least a minute from now");
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    fireEvent.change(within(dialog).getByLabelText("Expires at"), { target: { value: "2999-01-01T10:00" } });
    await user.click(within(dialog).getByRole("button", { name: "Create" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("refused"); // the server's answer, shown
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ uri: BASE, expires_at: new Date("2999-01-01T10:00").toISOString() });
  });

  it("opens folders with any name (encoded in the page URL, decoded for the API)", async () => {
    const odd = "a b%#?";
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, [entry(odd, "dir")]), [`storage:${odd}`]: listing(`${BASE}/${odd}`, [entry(`${odd}/in.txt`)]) }),
    });
    const user = userEvent.setup();
    const router = renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual([odd]));
    expect(within(row(odd)).getByRole("link", { name: odd })).toHaveAttribute("href", "/files/a%20b%25%23%3F");
    await user.dblClick(row(odd));
    await waitFor(() => expect(rowNames()).toEqual(["in.txt"]));
    expect(router.state.location.pathname).toBe("/files/a%20b%25%23%3F");
    expect(screen.getByTestId("files-path")).toHaveTextContent(`/${odd}`);
    expect(calls.at(-1)?.query.get("uri")).toBe(`storage:${odd}`);
  });

  it("Share opens the Share dialog on the selected item", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, [entry("data", "dir")]) }),
      "GET /api/v1/acl/": json({ uri: `${BASE}/data`, owner: "bob", my_level: "manage", grants: [] }),
    });
    const user = userEvent.setup();
    renderFiles("/files");
    await waitFor(() => expect(rowNames()).toEqual(["data"]));
    await user.click(within(row("data")).getByRole("checkbox"));
    await user.click(screen.getByRole("button", { name: "Share" }));
    const dialog = screen.getByRole("dialog", { name: "Share" });
    expect(await within(dialog).findByText("Not shared with anyone yet.")).toBeInTheDocument();
    expect(calls.find((c) => c.path === "/api/v1/acl/")?.query.get("uri")).toBe(`${BASE}/data`);
  });

  it("Shared with me lists storage grants and opens them", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/shares/with-me/": json({
        results: [{ uri: "storage://default/alice/data", principal: { kind: "user", name: "bob" }, level: "read", inherited: false }],
      }),
      "GET /api/v1/storage/list/": lists({ "storage:/alice/data": listing("storage://default/alice/data", [], "read") }),
    });
    const user = userEvent.setup();
    const router = renderFiles("/files?view=shared");
    const shared = await screen.findAllByTestId("shared-row");
    expect(shared[0]).toHaveTextContent("/~alice/data");
    expect(shared[0]).toHaveTextContent("alice");
    expect(shared[0]).toHaveTextContent("read");
    expect(calls[0].query.get("scheme")).toBe("storage");
    await user.click(shared[0]);
    await waitFor(() => expect(router.state.location.pathname).toBe("/files/~alice/data"));
    expect(await screen.findByText(/This folder is empty/)).toBeInTheDocument();
  });
});

/** A folder entry as `webkitGetAsEntry()` gives it for a dropped directory. */
function dirEntry(fullPath: string, children: unknown[]) {
  return {
    isFile: false,
    isDirectory: true,
    name: fullPath.split("/").at(-1),
    fullPath,
    createReader: () => {
      let read = false;
      return {
        readEntries: (done: (batch: unknown[]) => void) => {
          const batch = read ? [] : children;
          read = true;
          done(batch);
        },
      };
    },
  };
}

function fileEntry(fullPath: string, content: string) {
  const file = new File([content], fullPath.split("/").at(-1)!);
  return { isFile: true, isDirectory: false, name: file.name, fullPath, file: (done: (f: File) => void) => done(file) };
}

describe("Files: uploads", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    document.cookie = "csrftoken=tok; path=/";
  });

  it("a dropped folder keeps its structure: folders are created, each file goes to its relative path", async () => {
    mockFetch({ "GET /api/v1/storage/list/": lists({ "storage:inbox": listing(`${BASE}/inbox`, []) }) });
    const { calls, transport } = recordingTransport();
    renderFiles("/files/inbox", new UploadQueue(transport));
    await screen.findByText(/This folder is empty/);

    const folder = dirEntry("/dataset", [fileEntry("/dataset/a.txt", "A"), dirEntry("/dataset/sub", [fileEntry("/dataset/sub/b.txt", "BB")])]);
    const loose = fileEntry("/c.txt", "CCC");
    const looseFile = new File(["CCC"], "c.txt");
    const items = [
      { kind: "file", type: "", getAsFile: () => null, webkitGetAsEntry: () => folder },
      { kind: "file", type: "text/plain", getAsFile: () => looseFile, webkitGetAsEntry: () => loose },
    ];
    fireEvent.drop(screen.getByTestId("dropzone"), { dataTransfer: { items, files: [looseFile], types: ["Files"] } });

    await waitFor(() => expect(screen.getAllByTestId("upload-row")).toHaveLength(3));
    await waitFor(() => expect(screen.getByTestId("upload-total")).toHaveTextContent("3 of 3 files uploaded"));
    expect(calls[0]).toBe("mkdir storage:inbox/dataset/sub");
    expect(calls.slice(1).sort()).toEqual(["put storage:inbox/c.txt CCC", "put storage:inbox/dataset/a.txt A", "put storage:inbox/dataset/sub/b.txt BB"]);
    const rows = screen.getAllByTestId("upload-row");
    expect(rows.map((r) => r.getAttribute("data-name"))).toEqual(["dataset/a.txt", "dataset/sub/b.txt", "c.txt"]);
    for (const r of rows) {
      const bar = r.querySelector("progress")!;
      expect(bar.value).toBe(bar.max);
    }
    expect(within(screen.getByTestId("upload-total")).getByRole("progressbar")).toHaveAttribute("value", "6");
  });

  it("the folder picker uploads with webkitRelativePath; a failed upload can be retried, a finished list cleared", async () => {
    mockFetch({ "GET /api/v1/storage/list/": lists({ "storage:": listing(BASE, []) }) });
    const { calls, transport } = recordingTransport();
    let failOnce = true;
    const put = transport.put;
    transport.put = async (...args) => {
      if (failOnce) {
        failOnce = false;
        throw Object.assign(new Error("Refused"), {});
      }
      return put(...args);
    };
    const user = userEvent.setup();
    renderFiles("/files", new UploadQueue(transport));
    await screen.findByText(/This folder is empty/);

    const picked = new File(["P"], "p.txt");
    Object.defineProperty(picked, "webkitRelativePath", { value: "photos/2024/p.txt" });
    const input = screen.getByLabelText("Folder to upload");
    expect(input).toHaveAttribute("webkitdirectory");
    await user.upload(input as HTMLInputElement, picked);

    const failedRow = await screen.findByTestId("upload-row");
    await waitFor(() => expect(failedRow).toHaveAttribute("data-status", "failed"));
    expect(within(failedRow).getByRole("alert")).toHaveTextContent("Refused");
    await user.click(within(failedRow).getByRole("button", { name: /Retry/ }));
    await waitFor(() => expect(failedRow).toHaveAttribute("data-status", "done"));
    expect(calls).toEqual(["mkdir storage:photos/2024", "put storage:photos/2024/p.txt P"]);

    await user.click(screen.getByRole("button", { name: "Clear finished" }));
    expect(screen.queryByTestId("upload-row")).toBeNull();
  });
});
