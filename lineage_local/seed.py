"""Where the seed job (examples/orders_daily/glue_job.py) is: tool wheel package data, else the clone."""

from __future__ import annotations

from pathlib import Path
from typing import Final

# The tool wheel carries the seed job here (pyproject.toml's force-include); a clone and an editable
# install have no copy there and run the one under examples/.
PACKAGED: Final = Path(__file__).resolve().with_name("_seed") / "orders_daily" / "glue_job.py"
IN_CLONE: Final = Path(__file__).resolve().parent.parent / "examples" / "orders_daily" / "glue_job.py"


def seed_job() -> Path:
    """The seed Glue job script ``lineage demo`` runs by default."""
    return PACKAGED if PACKAGED.is_file() else IN_CLONE
