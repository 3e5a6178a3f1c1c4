"""The evaluation screen: the latest `tickdesk evaluate` result for this ledger (the JSON
beside it, engine/views/evaluation_file.py): the verdict line, then per fold the net bp
against the random baseline's band, then whatever else the file holds, by key. The file's
inner structure is read defensively: what is there is shown, nothing is assumed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from engine.views.evaluation_file import latest_evaluation_path

NET_KEYS = ("net_bp", "net_mean_bp", "mean_net_bp", "net")
BAND_KEYS = ("random_band_bp", "random_band", "band_bp", "band")


def _first(d: dict, keys: tuple[str, ...]) -> Any:
    return next((d[k] for k in keys if k in d), None)


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        text = json.dumps(v, default=str)
        return text if len(text) <= 100 else text[:99] + "…"
    return str(v)


def render_evaluation(data: dict[str, Any]) -> Text:
    t = Text()
    verdict = data.get("verdict")
    t.append("verdict  ", style="bold")
    t.append(f"{verdict if verdict is not None else '— (not in the file)'}\n\n", style="bold yellow")
    folds = data.get("folds")
    if isinstance(folds, list) and folds:
        t.append("folds\n", style="bold")
        for i, fold in enumerate(folds):
            if not isinstance(fold, dict):
                t.append(f"  {i}: {_scalar(fold)}\n")
                continue
            net, band = _first(fold, NET_KEYS), _first(fold, BAND_KEYS)
            head = f"  {fold.get('fold', i)}: "
            if isinstance(net, (int, float)):
                inside = ""
                if isinstance(band, (list, tuple)) and len(band) == 2 and all(isinstance(b, (int, float)) for b in band):
                    inside = "  inside the random band" if band[0] <= net <= band[1] else (
                        "  ABOVE the random band" if net > band[1] else "  below the random band")
                    t.append(f"{head}net {net:+.2f} bp  random band [{band[0]:+.2f}, {band[1]:+.2f}]{inside}\n",
                             style="green" if "ABOVE" in inside else "")
                else:
                    t.append(f"{head}net {net:+.2f} bp\n")
                rest = {k: v for k, v in fold.items() if k not in (*NET_KEYS, *BAND_KEYS, "fold")}
            else:
                rest = fold
                t.append(head + "\n")
            if rest:
                t.append("     " + "  ".join(f"{k} {_scalar(v)}" for k, v in rest.items()) + "\n", style="dim")
        t.append("\n")
    for key in ("pooled", "baselines", "trials", "fill_model", "seeds", "spec_hash", "wall_s"):
        if key in data:
            v = data[key]
            if isinstance(v, dict):
                t.append(f"{key}\n", style="bold")
                for k, x in v.items():
                    t.append(f"  {k} {_scalar(x)}\n")
            else:
                t.append(f"{key} ", style="bold")
                t.append(_scalar(v) + "\n")
    return t


def load_evaluation(db: str) -> tuple[Path, dict[str, Any] | None, str | None]:
    """(path, data, problem): data None with a reason when the file is absent or unreadable."""
    path = latest_evaluation_path(Path(db))
    if db == ":memory:" or not path.is_file():
        return path, None, None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return path, None, f"cannot read {path}: {exc}"
    if not isinstance(data, dict):
        return path, None, f"{path}: expected a JSON object"
    return path, data, None


class EvaluationScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,e", "close", "Close", id="evaluation.close")]

    def __init__(self, db: str) -> None:
        super().__init__()
        self.db = db

    def compose(self) -> ComposeResult:
        path, data, problem = load_evaluation(self.db)
        with VerticalScroll(id="evaluation"):
            yield Label("evaluation · latest `tickdesk evaluate` of this ledger", id="evaluation-title")
            if data is not None:
                yield Static(Text(str(path), style="dim"))
                yield Static(render_evaluation(data), id="evaluation-body")
            else:
                yield Static(Text(problem or (
                    f"no evaluation yet for this ledger ({path} does not exist).\n"
                    f"Produce one with `tickdesk evaluate --data ...` for this ledger ({self.db})."), style="yellow"),
                    id="evaluation-body")
            yield Static("Esc to close", id="evaluation-foot")

    def action_close(self) -> None:
        self.dismiss(None)
