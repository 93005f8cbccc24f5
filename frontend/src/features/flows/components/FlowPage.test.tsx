import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch } from "@/test/fetch";
import { renderRoutes } from "@/test/render";
import { bakeDetail, flowDetail } from "../testData";
import { FlowPage } from "./FlowPage";

function renderFlow(path: string) {
  return renderRoutes(
    [
      { path: "/flows/:flowId", element: <FlowPage /> },
      { path: "/flows/:owner/:flowId", element: <FlowPage /> },
    ],
    path,
  );
}

const BOB = json({ id: 1, username: "bob", email: "", full_name: "", is_staff: false, groups: [] });
const NO_BAKES = json({ next: null, previous: null, results: [] });

describe("FlowPage", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=tok; path=/";
  });

  it("shows config errors as file:line:column, the live jobs, and runs one with the params that changed", async () => {
    let detail = flowDetail({
      ok: false,
      errors: [{ file: ".neuro/broken.yml", line: 4, column: 5, message: "unknown key 'imag'", text: ".neuro/broken.yml:4:5: unknown key 'imag'" }],
    });
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/demo/": () => json(detail),
      "GET /api/v1/flows/demo/bakes/": NO_BAKES,
      "POST /api/v1/flows/demo/live/hello/run/": () => {
        detail = { ...detail, live_jobs: detail.live_jobs.map((j) => (j.id === "hello" ? { ...j, status: "pending", raw_id: "job-1", when: "2025-01-01T10:00:00Z" } : j)) };
        return json({ started: true, job: { id: "job-1", name: "demo-hello", status: "pending" } }, 201);
      },
    });
    const user = userEvent.setup();
    renderFlow("/flows/demo");

    expect(await screen.findByRole("heading", { level: 1, name: "Demo flow" })).toBeInTheDocument();
    expect(screen.getByTestId("flow-error")).toHaveTextContent(".neuro/broken.yml:4:5: unknown key 'imag'");
    await waitFor(() => expect(screen.getByTestId("flow-folder")).toHaveAttribute("href", "/files/demo"));
    const rows = screen.getAllByTestId("live-job-row");
    expect(rows.map((row) => row.dataset.job)).toEqual(["hello", "many"]);
    expect(within(rows[0]).getByRole("button", { name: "Kill" })).toBeDisabled();

    await user.click(within(rows[0]).getByRole("button", { name: "Run" }));
    const dialog = screen.getByRole("dialog", { name: "Run live job" });
    const who = within(dialog).getByLabelText("who");
    expect(who).toHaveValue("world");
    expect(dialog).toHaveTextContent("Whom to greet");
    await user.clear(who);
    await user.type(who, "kiln");
    await user.click(within(dialog).getByRole("button", { name: "Run" }));

    expect(await screen.findByTestId("run-notice")).toHaveTextContent("Started hello: demo-hello");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ params: { who: "kiln" } });
    await waitFor(() => expect(within(screen.getAllByTestId("live-job-row")[0]).getByRole("link", { name: "job-1" })).toHaveAttribute("href", "/jobs/job-1"));
  });

  it("says so when a run attached to the running job", async () => {
    const detail = flowDetail({
      live_jobs: [{ ...flowDetail().live_jobs[0], status: "running", raw_id: "job-1", when: "2025-01-01T10:00:00Z" }],
    });
    mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/demo/": json(detail),
      "GET /api/v1/flows/demo/bakes/": NO_BAKES,
      "POST /api/v1/flows/demo/live/hello/run/": json({ started: false, job: { id: "job-1", name: "demo-hello", status: "running" } }),
    });
    const user = userEvent.setup();
    renderFlow("/flows/demo");
    const row = await screen.findByTestId("live-job-row");
    expect(within(row).getByRole("button", { name: "Kill" })).toBeEnabled();
    await user.click(within(row).getByRole("button", { name: "Run" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Run" }));
    const notice = await screen.findByTestId("run-notice");
    expect(notice).toHaveAttribute("data-started", "false");
    expect(notice).toHaveTextContent("hello was already running: attached to demo-hello");
  });

  it("starts a bake with the batch's params and lists a 422's errors as file:line:column", async () => {
    let refuse = true;
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/flow:/alice/demo/": json(flowDetail({ owner: "alice", uri: "flow://default/alice/demo", folder: "storage://default/alice/demo", my_level: "write" })),
      "GET /api/v1/flows/flow:/alice/demo/bakes/": NO_BAKES,
      "POST /api/v1/flows/flow:/alice/demo/bakes/": () =>
        refuse
          ? json(
              {
                error: {
                  code: "unprocessable",
                  message: ".neuro/train.yml:3:9: bad",
                  details: { errors: [{ file: ".neuro/train.yml", line: 3, column: 9, message: "bad", text: ".neuro/train.yml:3:9: bad" }] },
                },
              },
              422,
            )
          : json(bakeDetail({ id: "bake-9" }), 201),
    });
    const user = userEvent.setup();
    renderFlow("/flows/~alice/demo");
    expect(await screen.findByTestId("flow-folder")).toHaveAttribute("href", "/files/~alice/demo");

    await user.click(screen.getByRole("button", { name: "Start bake" }));
    const dialog = screen.getByRole("dialog", { name: "Start bake" });
    await user.selectOptions(within(dialog).getByLabelText("Batch"), "train");
    expect(within(dialog).getByLabelText("epochs")).toHaveValue("3");
    await user.click(within(dialog).getByRole("button", { name: "Start" }));
    expect(within(dialog).getByTestId("field-error")).toHaveTextContent("Required.");
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    await user.type(within(dialog).getByLabelText(/dataset/), "mnist");
    await user.type(within(dialog).getByLabelText("Bake name"), "nightly");
    await user.click(within(dialog).getByRole("button", { name: "Start" }));
    expect(await within(dialog).findByTestId("start-error")).toHaveTextContent(".neuro/train.yml:3:9: bad");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ batch: "train", params: { dataset: "mnist" }, name: "nightly" });

    refuse = false;
    await user.click(within(dialog).getByRole("button", { name: "Start" }));
    expect(await screen.findByTestId("where")).toHaveTextContent("/flows/~alice/demo/bakes/bake-9");
  });
});
