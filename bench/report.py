"""How every bench script ends: print its figures as JSON and, with ``--json FILE``, keep them there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(figures: Any, path: str | Path | None, *, shown: Any = None) -> None:
    """Print ``shown`` (default: ``figures``) as indented JSON; write ``figures`` to ``path`` if given."""
    print(json.dumps(figures if shown is None else shown, indent=2, ensure_ascii=False))
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
