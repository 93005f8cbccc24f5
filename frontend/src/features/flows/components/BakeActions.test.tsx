import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { json, mockFetch } from "@/test/fetch";
import { renderRoutes } from "@/test/render";
import { bakeDetail, diamond } from "../testData";
import type { BakeDetail, Task } from "../types";
import { BakePage } from "./BakePage";

/** The bake page (where the actions live), at `path`. */
function renderBake(path = "/flows/demo/bakes/bake-1") {
  return renderRoutes(
    [
      { path: "/flows/:flowId/bakes/:bakeId", element: <BakePage /> },
      { path: "/flows/:owner/:flowId/bakes/:bakeId", element: <BakePage /> },
    ],
    path,
  );
}

const finishedTasks = (status: Task["status"]) => diamond().map((t) => ({ ...t, status }));

/** The bake's second attempt as the server answers a restart. */
function restarted(fromFailed: boolean): BakeDetail {
  const detail = bakeDetail({ status: "pending" }, diamond(), 2);
  return {
    ...detail,
    attempts: detail.attempts.map((a) => ({ ...a, from_failed: a.number === 2 ? fromFailed : a.from_failed, status: a.number === 2 ? "pending" : "failed" })),
    attempt: detail.attempt && { ...detail.attempt, status: "pending", from_failed: fromFailed },
  };
}

async function actions() {
  await screen.findByTestId("bake-status");
  return {
    cancel: screen.getByRole("button", { name: "Cancel" }),
    restart: screen.getByRole("button", { name: "Restart" }),
    graph: screen.getByRole("button", { name: "Download graph" }),
  };
}

describe("BakeActions on the bake page", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    // React Flow (the DAG) measures its pane; jsdom has no ResizeObserver.
    vi.stubGlobal(
      "ResizeObserver",
      class {
        observe() {}
        unobserve() {}
        disconnect() {}
      },
    );
    document.cookie = "csrftoken=tok; path=/";
  });

  it("cancels a running bake after confirmation and shows it cancelled; Restart waits until it has finished", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/bakes/bake-1/": json(bakeDetail()),
      "POST /api/v1/bakes/bake-1/cancel/": json(bakeDetail({ status: "cancelled", finished_at: "2025-01-01T10:05:00Z" }, finishedTasks("cancelled"))),
    });
    const user = userEvent.setup();
    renderBake();
    const { cancel, restart } = await actions();
    expect(screen.getByTestId("bake-status")).toHaveAttribute("data-status", "running");
    expect(cancel).toBeEnabled();
    expect(restart).toBeDisabled();
    expect(restart).toHaveAttribute("title", "A bake restarts once it has finished.");

    // Changing one's mind sends nothing.
    await user.click(cancel);
    await user.click(within(screen.getByRole("alertdialog", { name: "Cancel bake" })).getByRole("button", { name: "Keep running" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    await user.click(cancel);
    const confirm = screen.getByRole("alertdialog", { name: "Cancel bake" });
    expect(confirm).toHaveTextContent("Cancel nightly?");
    await user.click(within(confirm).getByRole("button", { name: "Cancel bake" }));

    await waitFor(() => expect(screen.getByTestId("bake-status")).toHaveAttribute("data-status", "cancelled"));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts.map((c) => c.path)).toEqual(["/api/v1/bakes/bake-1/cancel/"]);
    expect(posts[0].body).toBeUndefined();
    expect(posts[0].headers["x-csrftoken"]).toBe("tok");
    expect(screen.getByRole("button", { name: "Cancel" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Cancel" })).toHaveAttribute("title", "The bake is not running.");
    expect(screen.getByRole("button", { name: "Restart" })).toBeEnabled();
  });

  it("cancels from a page showing an older attempt and keeps showing that attempt's tasks", async () => {
    const running = bakeDetail({ status: "running" }, diamond(), 2);
    const first = { ...running, attempt: { ...running.attempts[0], tasks: finishedTasks("failed") } };
    const cancelled = bakeDetail({ status: "cancelled", finished_at: "2025-01-01T10:05:00Z" }, finishedTasks("cancelled"), 2);
    const { calls } = mockFetch({
      "GET /api/v1/bakes/bake-1/": (call) => json(call.query.get("attempt") === "1" ? first : running),
      "POST /api/v1/bakes/bake-1/cancel/": json({
        ...cancelled,
        attempts: cancelled.attempts.map((a) => (a.number === 2 ? { ...a, status: "cancelled" as const } : a)),
        attempt: cancelled.attempt && { ...cancelled.attempt, status: "cancelled" },
      }),
    });
    const user = userEvent.setup();
    const router = renderBake("/flows/demo/bakes/bake-1?attempt=1");
    const { cancel } = await actions();
    expect(screen.getByRole("combobox", { name: "Attempt" })).toHaveValue("1");
    expect(screen.getByLabelText("Tasks by status")).toHaveTextContent("4 failed");

    await user.click(cancel);
    await user.click(within(screen.getByRole("alertdialog", { name: "Cancel bake" })).getByRole("button", { name: "Cancel bake" }));

    await waitFor(() => expect(screen.getByTestId("bake-status")).toHaveAttribute("data-status", "cancelled"));
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual(["/api/v1/bakes/bake-1/cancel/"]);
    expect(router.state.location.search).toBe("?attempt=1");
    expect(screen.getByRole("combobox", { name: "Attempt" })).toHaveValue("1");
    expect(screen.getByLabelText("Tasks by status")).toHaveTextContent("4 failed");
    expect(screen.getByRole("option", { name: "#2 · cancelled (latest) · from failed" })).toBeInTheDocument();
  });

  it("shows the server's refusal to cancel in the confirmation", async () => {
    mockFetch({
      "GET /api/v1/bakes/bake-1/": json(bakeDetail()),
      "POST /api/v1/bakes/bake-1/cancel/": json({ error: { code: "conflict", message: "Bake bake-1 has already finished (succeeded)" } }, 409),
    });
    const user = userEvent.setup();
    renderBake();
    await user.click((await actions()).cancel);
    const confirm = screen.getByRole("alertdialog", { name: "Cancel bake" });
    await user.click(within(confirm).getByRole("button", { name: "Cancel bake" }));
    expect(await within(confirm).findByRole("alert")).toHaveTextContent("Bake bake-1 has already finished (succeeded)");
    expect(screen.getByRole("alertdialog", { name: "Cancel bake" })).toBeInTheDocument();
  });

  it.each([
    { untick: false, fromFailed: true },
    { untick: true, fromFailed: false },
  ])("restarts a failed bake with from_failed: $fromFailed (box unticked: $untick) and shows the new attempt", async ({ untick, fromFailed }) => {
    const { calls } = mockFetch({
      "GET /api/v1/bakes/bake-1/": json(bakeDetail({ status: "failed", finished_at: "2025-01-01T10:05:00Z" }, finishedTasks("failed"))),
      "POST /api/v1/bakes/bake-1/restart/": () => json(restarted(fromFailed), 201),
    });
    const user = userEvent.setup();
    renderBake();
    const { cancel, restart } = await actions();
    expect(cancel).toBeDisabled();
    expect(restart).toBeEnabled();

    await user.click(restart);
    const confirm = screen.getByRole("alertdialog", { name: "Restart bake" });
    expect(confirm).toHaveTextContent("Start attempt 2 of nightly");
    const box = within(confirm).getByRole("checkbox", { name: /From failed/ });
    expect(box).toBeChecked();
    if (untick) await user.click(box);
    expect(box).toHaveProperty("checked", fromFailed);
    await user.click(within(confirm).getByRole("button", { name: "Restart" }));

    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts.map((c) => c.path)).toEqual(["/api/v1/bakes/bake-1/restart/"]);
    expect(posts[0].body).toEqual({ from_failed: fromFailed });
    expect(screen.getByTestId("bake-status")).toHaveAttribute("data-status", "pending");
    expect(screen.getByRole("combobox", { name: "Attempt" })).toHaveValue("2");
    expect(screen.getByRole("option", { name: fromFailed ? "#2 · pending (latest) · from failed" : "#2 · pending (latest) · all tasks" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Restart" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Cancel" })).toBeEnabled();
  });

  it("ticks From failed again each time the restart dialog opens", async () => {
    mockFetch({ "GET /api/v1/bakes/bake-1/": json(bakeDetail({ status: "succeeded" }, finishedTasks("succeeded"))) });
    const user = userEvent.setup();
    renderBake();
    await user.click((await actions()).restart);
    await user.click(within(screen.getByRole("alertdialog", { name: "Restart bake" })).getByRole("checkbox"));
    await user.click(within(screen.getByRole("alertdialog")).getByRole("button", { name: "Cancel" }));
    await user.click(screen.getByRole("button", { name: "Restart" }));
    expect(within(screen.getByRole("alertdialog", { name: "Restart bake" })).getByRole("checkbox")).toBeChecked();
  });

  it("shows the server's refusal to restart and stays on the finished attempt", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/bakes/bake-1/": json(bakeDetail({ status: "failed" }, finishedTasks("failed"))),
      "POST /api/v1/bakes/bake-1/restart/": json({ error: { code: "conflict", message: "Bake bake-1 is running: cancel it first" } }, 409),
    });
    const user = userEvent.setup();
    renderBake();
    await user.click((await actions()).restart);
    const confirm = screen.getByRole("alertdialog", { name: "Restart bake" });
    await user.click(within(confirm).getByRole("button", { name: "Restart" }));
    expect(await within(confirm).findByRole("alert")).toHaveTextContent("Bake bake-1 is running: cancel it first");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ from_failed: true });
    expect(screen.getByTestId("bake-status")).toHaveAttribute("data-status", "failed");
  });

  it("offers the shown attempt's graph as DOT, SVG and PDF downloads", async () => {
    const twice = bakeDetail({ status: "running" }, diamond(), 2);
    const first = { ...bakeDetail({ status: "running" }, finishedTasks("failed"), 2), attempt: { ...twice.attempts[0], tasks: finishedTasks("failed") } };
    mockFetch({ "GET /api/v1/bakes/bake-1/": (call) => json(call.query.get("attempt") === "1" ? first : twice) });
    const user = userEvent.setup();
    renderBake("/flows/demo/bakes/bake-1?attempt=1");
    const { graph } = await actions();
    expect(graph).toHaveAttribute("aria-expanded", "false");
    expect(screen.queryByRole("menu")).toBeNull();

    await user.click(graph);
    expect(graph).toHaveAttribute("aria-expanded", "true");
    const items = within(screen.getByRole("menu")).getAllByRole("menuitem");
    expect(items.map((a) => [a.textContent, a.getAttribute("href")])).toEqual([
      ["Graphviz DOT .dot", "/api/v1/bakes/bake-1/graph/?format=dot&attempt=1"],
      ["SVG image .svg", "/api/v1/bakes/bake-1/graph/?format=svg&attempt=1"],
      ["PDF .pdf", "/api/v1/bakes/bake-1/graph/?format=pdf&attempt=1"],
    ]);
    for (const item of items) expect(item).toHaveAttribute("download");

    await user.keyboard("{Escape}");
    expect(screen.queryByRole("menu")).toBeNull();
  });

  it("links the latest attempt's graph without an attempt number", async () => {
    mockFetch({ "GET /api/v1/bakes/bake-1/": json(bakeDetail({ status: "succeeded" }, finishedTasks("succeeded"))) });
    const user = userEvent.setup();
    renderBake();
    await user.click((await actions()).graph);
    expect(within(screen.getByRole("menu")).getByRole("menuitem", { name: /Graphviz DOT/ })).toHaveAttribute("href", "/api/v1/bakes/bake-1/graph/?format=dot");
  });

  it("offers only DOT where the server has no Graphviz, and says why", async () => {
    mockFetch({ "GET /api/v1/bakes/bake-1/": json({ ...bakeDetail({ status: "succeeded" }, finishedTasks("succeeded")), graph_formats: ["dot"] }) });
    const user = userEvent.setup();
    renderBake();
    await user.click((await actions()).graph);
    const menu = within(screen.getByRole("menu"));
    expect(menu.getAllByRole("menuitem").map((a) => a.getAttribute("href"))).toEqual(["/api/v1/bakes/bake-1/graph/?format=dot"]);
    expect(menu.getByText("SVG and PDF need Graphviz on the server.")).toBeInTheDocument();
  });

  it("lets a reader download the graph but neither cancel nor restart", async () => {
    mockFetch({ "GET /api/v1/bakes/bake-1/": json(bakeDetail({ my_level: "read" })) });
    renderBake();
    const { cancel, restart, graph } = await actions();
    expect(cancel).toBeDisabled();
    expect(cancel).toHaveAttribute("title", "Cancelling needs write access to the flow.");
    expect(restart).toBeDisabled();
    expect(graph).toBeEnabled();
  });
});
