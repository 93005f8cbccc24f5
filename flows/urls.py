"""HTTP routes of the flows app, mounted under /api/v1/ by console/urls.py."""

urlpatterns: list = []
