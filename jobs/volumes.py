"""A job's storage volumes on the worker: bound live on the local-disk backend, staged through a
per-job folder on S3 (read-only volumes copied in before start, read-write ones synced back when
the job ends — see docs/jobs.md)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from console.errors import NotFound
from console.models import Level
from console.selectors import ensure_access
from jobs.models import Job
from jobs.runtime.base import Mount
from jobs.services import Volume, volume_parse


@dataclass
class VolumeSet:
    mounts: list[Mount]
    staged: list[tuple[Volume, Path]] = field(default_factory=list)
    scratch: Path | None = None

    @classmethod
    def prepare(cls, job: Job) -> VolumeSet:
        if not job.volumes:
            return cls(mounts=[])
        from storage.selectors import storage_local_path
        from storage.services import storage_mkdir, storage_stage_down

        volumes = [volume_parse(text, username=job.owner.username) for text in job.volumes]
        mounts: list[Mount] = []
        staged: list[tuple[Volume, Path]] = []
        scratch: Path | None = None
        for volume in volumes:
            # Access is checked again at start: a grant revoked since the job was queued counts.
            ensure_access(job.owner, volume.uri, Level.READ if volume.read_only else Level.WRITE)
            local = storage_local_path(volume.uri)
            if local is not None:
                if not local.exists():
                    if volume.read_only:
                        raise NotFound(f"Volume {volume.uri} does not exist")
                    storage_mkdir(by=job.owner, uri=volume.uri, parents=True)
                if not local.is_dir():
                    raise NotFound(f"Volume {volume.uri} is not a folder")
                mounts.append(Mount(local, volume.mount, volume.read_only))
                continue
            if scratch is None:
                scratch = Path(tempfile.mkdtemp(prefix=f"{job.pk}-", dir=_staging_root()))
            folder = scratch / str(len(staged))
            folder.mkdir()
            storage_stage_down(uri=volume.uri, dest=folder, missing_ok=not volume.read_only)
            mounts.append(Mount(folder, volume.mount, volume.read_only))
            staged.append((volume, folder))
        return cls(mounts=mounts, staged=staged, scratch=scratch)

    def finish(self, job: Job) -> None:
        if not self.staged:
            return
        from storage.services import storage_stage_up

        try:
            for volume, folder in self.staged:
                if not volume.read_only:
                    storage_stage_up(src=folder, uri=volume.uri)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)


def _staging_root() -> Path:
    root = Path(settings.DATA_DIR) / "job-staging"
    root.mkdir(parents=True, exist_ok=True)
    return root
