import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClientProvider } from "@tanstack/react-query";
import { createMemoryRouter, RouterProvider } from "react-router";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch } from "@/test/fetch";
import { testQueryClient } from "@/test/render";
import { flowDetail } from "../testData";
import type { FlowDetail, LiveJob } from "../types";
import { LiveJobsSection } from "./LiveJobsSection";

function renderSection(flow: FlowDetail) {
  const router = createMemoryRouter([{ path: "*", element: <LiveJobsSection location={{ owner: null, id: "demo" }} flow={flow} /> }]);
  render(
    <QueryClientProvider client={testQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

function instance(suffix: string, status: LiveJob["status"], rawId: string): LiveJob {
  const many = flowDetail().live_jobs[1];
  return { ...many, suffix, status, raw_id: rawId, when: "2025-01-01T10:00:00Z", run: { id: rawId, name: `demo-many-${suffix}`, status: status ?? "pending", reason: "" } };
}

describe("LiveJobsSection", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=tok; path=/";
  });

  it("shows each running instance of a multi job with its suffix, and kills one by its suffix", async () => {
    const flow = flowDetail({ live_jobs: [flowDetail().live_jobs[0], instance("b2b2b2", "running", "job-2"), instance("a1a1a1", "running", "job-1")] });
    const { calls } = mockFetch({
      "POST /api/v1/flows/demo/live/many/kill/": json({ id: "job-1", name: "demo-many-a1a1a1", status: "cancelled" }),
    });
    const user = userEvent.setup();
    renderSection(flow);

    const rows = screen.getAllByTestId("live-job-row");
    expect(rows.map((row) => [row.dataset.job, row.dataset.suffix])).toEqual([
      ["hello", undefined],
      ["many", "b2b2b2"],
      ["many", "a1a1a1"],
    ]);
    expect(within(rows[1]).getByTestId("live-job-suffix")).toHaveTextContent("b2b2b2");
    expect(within(rows[2]).getByRole("link", { name: "job-1" })).toHaveAttribute("href", "/jobs/job-1");
    // Run is the job's (a new instance), once; Kill is each instance's own.
    expect(within(rows[1]).getByRole("button", { name: "Run" })).toBeEnabled();
    expect(within(rows[2]).queryByRole("button", { name: "Run" })).toBeNull();
    expect(within(rows[1]).getByRole("button", { name: "Kill" })).toBeEnabled();

    await user.click(within(rows[2]).getByRole("button", { name: "Kill" }));
    const dialog = screen.getByRole("alertdialog", { name: "Kill job" });
    expect(dialog).toHaveTextContent("Kill many a1a1a1 (job-1)?");
    await user.click(within(dialog).getByRole("button", { name: "Kill" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ suffix: "a1a1a1" });
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
  });

  it("kills a non-multi job's run without a suffix", async () => {
    const hello: LiveJob = { ...flowDetail().live_jobs[0], status: "running", raw_id: "job-9", when: "2025-01-01T10:00:00Z" };
    const { calls } = mockFetch({ "POST /api/v1/flows/demo/live/hello/kill/": json({ id: "job-9", name: "demo-hello", status: "cancelled" }) });
    const user = userEvent.setup();
    renderSection(flowDetail({ live_jobs: [hello] }));
    await user.click(within(screen.getByTestId("live-job-row")).getByRole("button", { name: "Kill" }));
    await user.click(within(screen.getByRole("alertdialog", { name: "Kill job" })).getByRole("button", { name: "Kill" }));
    await waitFor(() => expect(calls.find((c) => c.method === "POST")?.body).toEqual({}));
  });
});
