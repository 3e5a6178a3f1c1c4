"""Export closed trades (the `trades --json` contract rows) to CSV or JSON files; nested
fields (model weights, reward components, trained models) go into CSV cells as JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


def export_path(db: str, fmt: str, stamp: str) -> Path:
    """<ledger dir>/exports/trades-<stamp>.<fmt>; an in-memory ledger exports to ./exports."""
    base = Path.cwd() if db == ":memory:" else Path(db).parent
    return base / "exports" / f"trades-{stamp}.{fmt}"


def write_trades(rows: list[dict[str, Any]], path: Path, fmt: str) -> Path:
    if fmt not in ("csv", "json"):
        raise ValueError(f"export format must be csv or json, got {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        path.write_text(json.dumps(rows, indent=1, default=str))
        return path
    fields = list(rows[0]) if rows else ["id"]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()})
    return path
