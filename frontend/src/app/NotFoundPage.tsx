import { Link } from "react-router";

export function NotFoundPage() {
  return (
    <section className="page">
      <h1>Not found</h1>
      <p className="empty">
        There is nothing at this address. <Link to="/jobs">Back to Jobs</Link>
      </p>
    </section>
  );
}
