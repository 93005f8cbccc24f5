import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClientProvider } from "@tanstack/react-query";
import { createMemoryRouter, RouterProvider, useParams } from "react-router";
import { beforeEach, describe, expect, it } from "vitest";
import { useRealtimeEvents } from "@/app/realtime";
import { FakeWebSocket } from "@/test/fakeWebSocket";
import { json, mockFetch, type RecordedCall } from "@/test/fetch";
import { testQueryClient } from "@/test/render";
import { jobListParams, DEFAULT_FILTERS, filtersFromSearch } from "../filters";
import { jobSummary } from "../testData";
import { JobsPage } from "./JobsPage";

function JobStub() {
  const { jobId } = useParams();
  return <p data-testid="job-page">{jobId}</p>;
}

/** The list page, with the app's /ws/events/ bridge mounted beside it as the layout does. */
function WithRealtime({ children }: { children: React.ReactNode }) {
  useRealtimeEvents();
  return <>{children}</>;
}

function renderList(path = "/jobs") {
  const router = createMemoryRouter(
    [
      { path: "/jobs", element: <WithRealtime><JobsPage /></WithRealtime> },
      { path: "/jobs/:jobId", element: <JobStub /> },
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

const listCalls = (calls: RecordedCall[]) => calls.filter((c) => c.method === "GET" && c.path === "/api/v1/jobs/");
const lastQuery = (calls: RecordedCall[]) => listCalls(calls).at(-1)?.query.toString();

describe("job list filters → API query", () => {
  it("maps each filter to the documented parameter", () => {
    expect(jobListParams(DEFAULT_FILTERS).toString()).toBe("");
    expect(jobListParams({ ...DEFAULT_FILTERS, view: "all" }).toString()).toBe("all=1");
    expect(
      jobListParams({ view: "all", status: "failed", name: "train", tags: ["a", "b"], owners: ["alice", "bob"], shared: true }).toString(),
    ).toBe("all=1&status=failed&name=train&tag=a&tag=b&owner=alice&owner=bob&shared=1");
    expect(jobListParams({ ...DEFAULT_FILTERS, status: "pending" }).toString()).toBe("status=pending");
  });

  it("reads filters from the page URL, dropping a status the view cannot show", () => {
    expect(filtersFromSearch(new URLSearchParams("view=all&status=failed&tag=a,b&owner=alice&shared=1"))).toEqual({
      view: "all",
      status: "failed",
      name: "",
      tags: ["a", "b"],
      owners: ["alice"],
      shared: true,
    });
    expect(filtersFromSearch(new URLSearchParams("status=failed")).status).toBe("");
  });
});

describe("JobsPage", () => {
  beforeEach(() => {
    FakeWebSocket.install();
  });

  it("lists active jobs by default, and sends each filter as a query parameter", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/jobs/": (call) =>
        json({ next: null, previous: null, results: call.query.get("all") ? [jobSummary(), jobSummary({ id: "job-old", name: null, status: "succeeded" })] : [jobSummary()] }),
    });
    const user = userEvent.setup();
    const router = renderList();

    const rows = await screen.findAllByTestId("job-row");
    expect(rows).toHaveLength(1);
    expect(lastQuery(calls)).toBe("");
    expect(screen.getByRole("tab", { name: "Running" })).toHaveAttribute("aria-selected", "true");
    expect(rows[0]).toHaveAttribute("data-job-id", "job-11111111-2222-3333-4444-555555555555");
    expect(within(rows[0]).getByText("train").tagName).toBe("STRONG");
    expect(rows[0]).toHaveTextContent("running");
    expect(rows[0]).toHaveTextContent("python:3.11");
    expect(rows[0]).toHaveTextContent("python train.py");
    expect(within(rows[0]).getByText(/ago|2025-03-10/)).toHaveAttribute("title", expect.stringMatching(/^2025-03-10 \d\d:\d\d$/));

    await user.click(screen.getByRole("tab", { name: "All" }));
    await waitFor(() => expect(screen.getAllByTestId("job-row")).toHaveLength(2));
    expect(lastQuery(calls)).toBe("all=1");
    expect(router.state.location.search).toBe("?view=all");

    await user.selectOptions(screen.getByLabelText("Status"), "failed");
    await waitFor(() => expect(lastQuery(calls)).toBe("all=1&status=failed"));

    await user.type(screen.getByLabelText("Name"), "train");
    await user.type(screen.getByLabelText("Tag"), "exp, v2");
    await user.type(screen.getByLabelText("Owner"), "alice");
    await user.click(screen.getByLabelText("Shared with me"));
    await waitFor(() => expect(lastQuery(calls)).toBe("all=1&status=failed&name=train&tag=exp&tag=v2&owner=alice&shared=1"));
    // Typing is debounced: no request per keystroke.
    expect(listCalls(calls).map((c) => c.query.get("name")).filter((n) => n && n !== "train")).toEqual([]);

    await user.click(screen.getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(lastQuery(calls)).toBe("all=1"));
    expect(screen.getByLabelText("Name")).toHaveValue("");

    await user.click(screen.getByRole("tab", { name: "Running" }));
    await waitFor(() => expect(lastQuery(calls)).toBe(""));
  });

  it("loads more with the next cursor, and opens a job on a row click", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/jobs/": (call) =>
        call.query.get("cursor") === "abc"
          ? json({ next: null, previous: null, results: [jobSummary({ id: "job-2", name: "second" })] })
          : json({ next: "http://testserver/api/v1/jobs/?all=1&cursor=abc", previous: null, results: [jobSummary({ id: "job-1", name: "first" })] }),
    });
    const user = userEvent.setup();
    const router = renderList("/jobs?view=all");

    expect(await screen.findAllByTestId("job-row")).toHaveLength(1);
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(screen.getAllByTestId("job-row")).toHaveLength(2));
    expect(listCalls(calls).at(-1)?.url).toBe("/api/v1/jobs/?all=1&cursor=abc"); // made relative to this site
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();

    await user.click(screen.getAllByTestId("job-row")[1].querySelector("td:nth-child(4)")!);
    expect(await screen.findByTestId("job-page")).toHaveTextContent("job-2");
    expect(router.state.location.pathname).toBe("/jobs/job-2");
  });

  it("refreshes the list when /ws/events/ says a job was created or changed status", async () => {
    let jobs = [jobSummary({ id: "job-1", name: "first" })];
    mockFetch({ "GET /api/v1/jobs/": () => json({ next: null, previous: null, results: jobs }) });
    renderList();
    expect(await screen.findAllByTestId("job-row")).toHaveLength(1);

    const events = FakeWebSocket.instances.find((s) => s.url.endsWith("/ws/events/"))!;
    act(() => {
      events.open();
      events.receive({ type: "state", watching: ["job://default/bob"] });
    });
    jobs = [jobSummary({ id: "job-2", name: "second", status: "pending" }), ...jobs];
    act(() => events.receive({ type: "job.created", uri: "job://default/bob/job-2", job: jobs[0] }));
    await waitFor(() => expect(screen.getAllByTestId("job-row")).toHaveLength(2));

    jobs = [jobs[0]]; // job-1 finished: no longer in the Running view
    act(() => events.receive({ type: "job.status", uri: "job://default/bob/job-1", job: { ...jobSummary({ id: "job-1" }), status: "succeeded" } }));
    await waitFor(() => expect(screen.getAllByTestId("job-row")).toHaveLength(1));
    expect(screen.getByTestId("job-row")).toHaveAttribute("data-job-id", "job-2");
  });

  it("offers Share all my jobs (the Share dialog on job:)", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/jobs/": json({ next: null, previous: null, results: [] }),
      "GET /api/v1/acl/": json({ uri: "job://default/bob", owner: "bob", my_level: "manage", grants: [] }),
    });
    const user = userEvent.setup();
    renderList();
    expect(await screen.findByText(/No active jobs/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Share all my jobs" }));
    expect(await screen.findByRole("dialog", { name: "Share" })).toHaveTextContent("job://default/bob");
    expect(calls.find((c) => c.path === "/api/v1/acl/")?.query.get("uri")).toBe("job:");
  });
});
