"""HTTP routes of the jobs app, mounted under /api/v1/ by console/urls.py."""

urlpatterns: list = []
