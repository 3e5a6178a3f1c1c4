"""Where the latest `tickdesk evaluate` result for a ledger is kept, so the TUI can show it."""

from pathlib import Path


def latest_evaluation_path(db: Path) -> Path:
    """Beside the ledger it evaluated: <ledger dir>/evaluation/latest.json."""
    return Path(db).parent / "evaluation" / "latest.json"
