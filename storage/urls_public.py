"""Public share-link routes under /s/ (anyone with the token; no account)."""

urlpatterns: list = []
