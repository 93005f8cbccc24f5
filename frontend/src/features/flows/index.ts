/** The Flows tab's pages (app/routes.tsx mounts them, loaded on first visit) + flows.css. */
import "./flows.css";

export { FlowPage } from "./components/FlowPage";
export { FlowsListPage } from "./components/FlowsListPage";
