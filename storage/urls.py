"""HTTP routes of the storage app, mounted under /api/v1/ by console/urls.py."""

urlpatterns: list = []
