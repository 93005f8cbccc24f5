"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class UriField(serializers.CharField):
    """A URI or storage path as the client sent it. DRF's CharField strips Unicode whitespace,
    which would turn ``storage:data/\\u2028`` (a legal file name) into ``storage:data``: another
    file. ``parse_uri`` trims ASCII blanks itself."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 4096)
        super().__init__(trim_whitespace=False, **kwargs)
