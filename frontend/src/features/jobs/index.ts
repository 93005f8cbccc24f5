/** The Jobs tab's pages (app/routes.tsx mounts them). */
import "./jobs.css";

export { JobPage } from "./components/JobPage";
export { JobsPage } from "./components/JobsPage";
