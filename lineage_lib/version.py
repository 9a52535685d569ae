from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"
PRODUCER_NAME: Final = "lineage_lib"
