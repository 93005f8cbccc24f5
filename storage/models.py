"""Models of the storage app (filled in by the storage issue)."""
