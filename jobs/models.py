"""Models of the jobs app (filled in by the jobs issue)."""
