"""Models of the flows app (filled in by the flows issue)."""
