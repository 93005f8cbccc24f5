import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { json, mockFetch } from "@/test/fetch";
import { renderRoutes } from "@/test/render";
import { flowSummary } from "../testData";
import { FlowsListPage } from "./FlowsListPage";

/** The list page (where the dialog lives); any other address shows where the app went. */
function renderFlows() {
  return renderRoutes([{ path: "/flows", element: <FlowsListPage /> }], "/flows");
}

const BOB = json({ id: 1, username: "bob", email: "", full_name: "", is_staff: false, groups: [] });

describe("ImportFlowDialog", () => {
  beforeEach(() => {
    document.cookie = "csrftoken=tok; path=/";
  });

  it("imports a folder shared with me (typed as ~alice/project) and opens the flow", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/": json({ results: [] }),
      "POST /api/v1/flows/": json(flowSummary("project", { folder: "storage://default/alice/project", title: "Alice's project" }), 201),
    });
    const user = userEvent.setup();
    const router = renderFlows();

    await user.click(await screen.findByRole("button", { name: "Import" }));
    const dialog = screen.getByRole("dialog", { name: "Import flow" });
    const folder = within(dialog).getByLabelText("Folder");
    expect(folder).toHaveFocus();

    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect(within(dialog).getByTestId("field-error")).toHaveTextContent("Enter the project folder, e.g. storage:my-project.");
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    await user.type(folder, "~alice/project");
    await user.click(within(dialog).getByRole("button", { name: "Import" }));

    expect(await screen.findByTestId("where")).toHaveTextContent("/flows/project");
    expect(router.state.location.pathname).toBe("/flows/project");
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts).toHaveLength(1);
    expect(posts[0].path).toBe("/api/v1/flows/");
    expect(posts[0].body).toEqual({ folder: "storage:/alice/project" });
    expect(posts[0].headers["x-csrftoken"]).toBe("tok");
  });

  it("sends a storage: folder as typed", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/": json({ results: [] }),
      "POST /api/v1/flows/": json(flowSummary("my_project"), 201),
    });
    const user = userEvent.setup();
    renderFlows();
    await user.click(await screen.findByRole("button", { name: "Import" }));
    const dialog = screen.getByRole("dialog", { name: "Import flow" });
    await user.type(within(dialog).getByLabelText("Folder"), "  storage:work/my-project ");
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect(await screen.findByTestId("where")).toHaveTextContent("/flows/my_project");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ folder: "storage:work/my-project" });
  });

  it("says why a folder without a .apolo/ or .neuro/ config folder cannot be imported", async () => {
    const { calls } = mockFetch({
      "GET /api/v1/auth/me/": BOB,
      "GET /api/v1/flows/": json({ results: [] }),
      "POST /api/v1/flows/": json(
        { error: { code: "not_found", message: "storage://default/bob/notes has no .apolo/ or .neuro/ config folder: it is not a flow project" } },
        404,
      ),
    });
    const user = userEvent.setup();
    const router = renderFlows();
    await user.click(await screen.findByRole("button", { name: "Import" }));
    const dialog = screen.getByRole("dialog", { name: "Import flow" });
    await user.type(within(dialog).getByLabelText("Folder"), "notes");
    await user.click(within(dialog).getByRole("button", { name: "Import" }));

    expect(await within(dialog).findByRole("alert")).toHaveTextContent(
      "storage://default/bob/notes has no .apolo/ or .neuro/ config folder: it is not a flow project",
    );
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ folder: "storage:notes" });
    expect(router.state.location.pathname).toBe("/flows");
    expect(screen.getByRole("dialog", { name: "Import flow" })).toBeInTheDocument();
    expect(within(dialog).getByLabelText("Folder")).toHaveValue("notes");
    expect(within(dialog).getByRole("button", { name: "Import" })).toBeEnabled();
  });
});
