"""Settings of the uvicorn processes the storage tests start: the test settings, plus the S3 part
size from the environment (small parts keep multipart tests small)."""

import os

from tests.settings import *  # noqa: F403

KILN_S3_PART_SIZE = int(os.environ.get("KILN_S3_PART_SIZE", 8 << 20))
