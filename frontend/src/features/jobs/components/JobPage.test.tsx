import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClientProvider } from "@tanstack/react-query";
import { createMemoryRouter, RouterProvider } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { json, mockFetch } from "@/test/fetch";
import { testQueryClient } from "@/test/render";
import { jobDetail, jobSummary } from "../testData";
import type { JobDetail } from "../types";
import { JobPage } from "./JobPage";

const ID = "job-11111111-2222-3333-4444-555555555555";

function renderJob(path = "/jobs/train") {
  const router = createMemoryRouter([{ path: "/jobs/:jobId", element: <JobPage /> }], { initialEntries: [path] });
  render(
    <QueryClientProvider client={testQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

const logSockets = () => FakeWebSocket.instances.filter((s) => s.url.includes(`/ws/jobs/${ID}/logs/`));
const lineTexts = () => screen.queryAllByTestId("log-line").map((line) => line.querySelector(".log-text")?.textContent);

describe("JobPage", () => {
  beforeEach(() => {
    FakeWebSocket.install();
    document.cookie = "csrftoken=tok; path=/";
    // jsdom lays nothing out: give the log view the height a browser would (20 lines of 18 px).
    vi.spyOn(HTMLElement.prototype, "clientHeight", "get").mockImplementation(function (this: HTMLElement) {
      return this.dataset.testid === "job-logs" ? 360 : 0;
    });
  });

  it("streams the log by offset, resumes after a drop, follows the job's status, and stops at the end", async () => {
    let detail: JobDetail = jobDetail({ id: ID });
    const { calls } = mockFetch({ [`GET /api/v1/jobs/train/`]: () => json(detail) });
    renderJob();

    expect(await screen.findByRole("heading", { level: 1, name: "train" })).toBeInTheDocument();
    expect(screen.getByTestId("job-status")).toHaveTextContent("running");
    expect(screen.getByText("python train.py", { selector: "pre" })).toBeInTheDocument();
    expect(screen.getAllByTestId("history-row")).toHaveLength(2);
    expect(screen.getByRole("link", { name: "Download logs" })).toHaveAttribute("href", `/api/v1/jobs/${ID}/logs/?format=text`);
    expect(screen.getByLabelText("Follow")).toBeChecked();

    // First connection: everything from the start.
    expect(logSockets()).toHaveLength(1);
    expect(logSockets()[0].url).toBe(`ws://localhost:5173/ws/jobs/${ID}/logs/?after=-1`);
    const first = logSockets()[0];
    act(() => {
      first.open();
      first.receive({ type: "state", job: jobSummary({ id: ID }) });
      first.receive({ type: "log", first: 0, lines: ["line-1", "line-2", "line-3"] });
      first.receive({ type: "log", first: 1, lines: ["line-2", "line-3", "line-4"] }); // overlap: deduped
    });
    expect(lineTexts()).toEqual(["line-1", "line-2", "line-3", "line-4"]);
    expect(screen.getByTestId("logs-connection")).toHaveTextContent("live");

    // The connection drops; the next one asks only for what comes after offset 3.
    act(() => first.drop());
    expect(screen.getByTestId("logs-connection")).toHaveTextContent("reconnecting");
    await waitFor(() => expect(logSockets()).toHaveLength(2), { timeout: 2000 });
    const second = logSockets()[1];
    expect(second.url).toBe(`ws://localhost:5173/ws/jobs/${ID}/logs/?after=3`);
    act(() => {
      second.open();
      second.receive({ type: "state", job: jobSummary({ id: ID }) });
      second.receive({ type: "log", first: 4, lines: ["line-5"] });
    });
    expect(lineTexts()).toEqual(["line-1", "line-2", "line-3", "line-4", "line-5"]);

    // The job finishes: the status in the header follows the socket, the history is re-read.
    detail = jobDetail({
      id: ID,
      status: "succeeded",
      reason: "Completed",
      exit_code: 0,
      finished_at: "2025-03-10T12:01:00Z",
      history: [...detail.history, { status: "succeeded", reason: "Completed", description: "", exit_code: 0, at: "2025-03-10T12:01:00Z" }],
    });
    const detailCalls = calls.length;
    act(() => second.receive({ type: "job.status", job: jobSummary({ id: ID, status: "succeeded", reason: "Completed", exit_code: 0 }) }));
    await waitFor(() => expect(screen.getByTestId("job-status")).toHaveTextContent("succeeded"));
    await waitFor(() => expect(screen.getAllByTestId("history-row")).toHaveLength(3));
    expect(calls.length).toBeGreaterThan(detailCalls);

    act(() => second.receive({ type: "end", status: "succeeded", reason: "Completed", exit_code: 0, last_offset: 4 }));
    expect(screen.getByTestId("logs-end")).toHaveTextContent("The job succeeded (Completed) with exit code 0 · 5 lines.");
    expect(second.closedWith).toBe(1000);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(logSockets()).toHaveLength(2); // no reconnect after the end
    expect(screen.getByRole("button", { name: "Kill" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Terminal" })).toBeDisabled();
  });

  it("turns Follow off when the reader scrolls up, and Tail jumps back to the end", async () => {
    mockFetch({ [`GET /api/v1/jobs/train/`]: json(jobDetail({ id: ID })) });
    const user = userEvent.setup();
    renderJob();
    await screen.findByRole("heading", { level: 1, name: "train" });
    const view = screen.getByTestId("job-logs");
    Object.defineProperty(view, "scrollHeight", { configurable: true, value: 1800 });
    Object.defineProperty(view, "clientHeight", { configurable: true, value: 400 });

    act(() => {
      logSockets()[0].open();
      logSockets()[0].receive({ type: "state", job: jobSummary({ id: ID }) });
      logSockets()[0].receive({ type: "log", first: 0, lines: Array.from({ length: 100 }, (_, i) => `l${i}`) });
    });
    expect(view.scrollTop).toBe(1800); // followed to the bottom (the browser would clamp it to 1400)

    view.scrollTop = 1400;
    fireEvent.scroll(view);
    view.scrollTop = 600;
    fireEvent.scroll(view);
    expect(screen.getByLabelText("Follow")).not.toBeChecked();
    act(() => logSockets()[0].receive({ type: "log", first: 100, lines: ["more"] }));
    expect(view.scrollTop).toBe(600); // left where the reader is

    await user.click(screen.getByRole("button", { name: "Tail" }));
    expect(screen.getByLabelText("Follow")).toBeChecked();
    expect(view.scrollTop).toBe(1800);
  });

  it("renders only the visible part of a long log", async () => {
    mockFetch({ [`GET /api/v1/jobs/train/`]: json(jobDetail({ id: ID })) });
    renderJob();
    await screen.findByRole("heading", { level: 1, name: "train" });
    const batch = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    act(() => {
      logSockets()[0].open();
      logSockets()[0].receive({ type: "state", job: jobSummary({ id: ID }) });
      for (let first = 0; first < 200_000; first += 5000) logSockets()[0].receive({ type: "log", first, lines: batch });
    });
    expect(screen.getByText("200,000 lines")).toBeInTheDocument();
    expect(screen.getAllByTestId("log-line").length).toBeLessThan(100);
  });

  it("lets a reader see and share-list the job but not kill it or open a shell", async () => {
    mockFetch({
      [`GET /api/v1/jobs/${ID}/`]: json(jobDetail({ id: ID, owner: "bob", my_level: "read", http_port: 8888, http_url: `/jobs/${ID}/browse/` })),
      "GET /api/v1/acl/": json({ uri: `job://default/bob/${ID}`, owner: "bob", my_level: "read", grants: [] }),
    });
    const user = userEvent.setup();
    renderJob(`/jobs/${ID}`);
    await screen.findByRole("heading", { level: 1, name: "train" });

    expect(screen.getByRole("button", { name: "Kill" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Terminal" })).toBeDisabled();
    const browse = screen.getByRole("link", { name: "Browse" });
    expect(browse).toHaveAttribute("href", `/jobs/${ID}/browse/`);
    expect(browse).toHaveAttribute("target", "_blank");

    await user.click(screen.getByRole("button", { name: "Share" }));
    const dialog = await screen.findByRole("dialog", { name: "Share" });
    expect(await within(dialog).findByText(/Sharing this needs the manage level/)).toBeInTheDocument();
  });

  it("kills after confirmation, and shows the server's refusal in the dialog", async () => {
    let refuse = true;
    const { calls } = mockFetch({
      [`GET /api/v1/jobs/train/`]: json(jobDetail({ id: ID })),
      [`POST /api/v1/jobs/${ID}/kill/`]: () =>
        refuse
          ? json({ error: { code: "forbidden", message: "You need write access to kill this job." } }, 403)
          : json(jobDetail({ id: ID, status: "cancelled", reason: "Cancelled" })),
    });
    const user = userEvent.setup();
    renderJob();
    await screen.findByRole("heading", { level: 1, name: "train" });

    await user.click(screen.getByRole("button", { name: "Kill" }));
    const confirm = screen.getByRole("alertdialog", { name: "Kill job" });
    await user.click(within(confirm).getByRole("button", { name: "Kill" }));
    expect(await within(confirm).findByRole("alert")).toHaveTextContent("You need write access to kill this job.");

    refuse = false;
    await user.click(within(confirm).getByRole("button", { name: "Kill" }));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(screen.getByTestId("job-status")).toHaveTextContent("cancelled");
    expect(calls.filter((c) => c.method === "POST" && c.path === `/api/v1/jobs/${ID}/kill/`)).toHaveLength(2);
  });

  it("says so when the job does not exist or cannot be seen", async () => {
    mockFetch({ "GET /api/v1/jobs/nope/": json({ error: { code: "not_found", message: "No such job: nope" } }, 404) });
    renderJob("/jobs/nope");
    expect(await screen.findByRole("heading", { level: 1, name: "Job not found" })).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("No such job: nope");
  });
});
