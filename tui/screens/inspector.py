"""The trade inspector: one closed trade in full. Opened with Enter or a click on a row of
Closed trades (or `i` / the palette for the selected one); the app loads the detail from the
ledger in a worker and pushes this screen with it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from engine.views.desk import model_calls
from engine.views.trade_detail import TradeDetail
from tui import format as fmt
from tui.glossary import REWARD_TERMS
from tui.widgets.learning import MODEL_LABELS

REWARD_INPUTS = ("qty", "entry_price", "exit_price", "gross_pnl", "fees", "pnl", "hold_s")


def render_detail(d: TradeDetail) -> Text:
    tr = d.trade
    t = Text()
    side = "LONG" if tr["side"] == "buy" else "SHORT"
    hold_s = (tr["exit_ns"] - tr["entry_ns"]) / 1e9
    t.append(f"{side} {fmt.qty(tr['qty'])} {tr['symbol']}  ", style="bold")
    t.append(f"{fmt.price(tr['entry_price'])} → {fmt.price(tr['exit_price'])}  held {fmt.duration(hold_s)}\n")
    t.append(f"opened by {tr['open_source']} · closed by {tr['close_source']} · {tr['venue']}\n", style="dim")
    t.append(f"{fmt.event_time(tr['entry_ns'])} → {fmt.event_time(tr['exit_ns'])}\n\n", style="dim")
    t.append("PnL ", style="bold")
    t.append(f"gross {fmt.signed(tr['gross_pnl'])} − fees {fmt.price(tr['fees'])} = ")
    t.append(fmt.signed(tr["pnl"]) + "\n", style=fmt.sign_style(tr["pnl"]))
    t.append("\nReward", style="bold")
    comps = tr.get("reward_components")
    if tr.get("reward") is None or not comps:
        t.append("  not computed yet\n", style="dim")
    else:
        t.append(f" ({tr.get('reward_preset') or '—'}) ")
        t.append(fmt.signed(tr["reward"], 4) + "\n", style=fmt.sign_style(tr["reward"]) + " bold")
        for key, value in comps.items():
            label, meaning = REWARD_TERMS.get(key, (key, ""))
            t.append(f"  {label:<8} {value:+.5g}  ", style="bold" if key == "final" else "")
            t.append(meaning + "\n", style="dim")
        inputs = {"hold_s": hold_s, **tr}
        t.append("  inputs: " + "  ".join(f"{k} {inputs[k]:.6g}" for k in REWARD_INPUTS if k in inputs) + "\n",
                 style="dim")
    t.append("\nOpening signal", style="bold")
    s = d.signal
    if s is None:
        t.append("  none linked\n", style="dim")
    else:
        conf = "—" if s.get("confidence") is None else f"{s['confidence']:.3f}"
        t.append(f"  {s['id']} · {s['kind']} · {s['action']} · confidence {conf}\n")
        outputs = s.get("outputs") or {}
        for name in ("p_win", "policy", "propensity"):
            value = s.get(name, outputs.get(name))
            if value is not None:
                t.append(f"  {name} {value:.4g}\n" if isinstance(value, float) else f"  {name} {value}\n")
        calls = model_calls(outputs, s.get("contributions") or {}, s.get("model_versions") or {})
        for c in calls:
            share = "—" if c.contribution is None else f"{100 * c.contribution:.0f}%"
            ver = "" if c.version is None else f" v{c.version}"
            t.append(f"  {MODEL_LABELS.get(c.name, c.name):<4} {share:>4}{ver}  {c.says}\n")
        if not calls and isinstance(outputs.get("models"), str):
            t.append(f"  models: {outputs['models']}\n", style="dim")
    t.append("\nTraining on this trade", style="bold")
    if not d.training:
        t.append("  none (yet)\n", style="dim")
    else:
        t.append("\n")
        for e in d.training:
            loss = "—" if e["loss"] is None else f"{e['loss']:.4g}"
            ver = "—" if e["model_version"] is None else f"v{e['model_version']}"
            t.append(f"  {MODEL_LABELS.get(e['model'], e['model']):<4} {e['status']:<10} loss {loss:<9} "
                     f"{ver:<5} weight {e['weight']:.2f} on {e['device']}\n")
    t.append("\nFills\n", style="bold")
    for f in d.fills:
        t.append(f"  {fmt.event_time(f['ts_ns'])[11:19]} {f['side']:<4} {fmt.qty(f['qty'])} @ {fmt.price(f['price'])}"
                 f"  fee {f['fee']:.4f}  slip {f['slippage']:.4g}  {f['source']}"
                 f"  {f.get('fill_model', '')}\n")
    if not d.fills:
        t.append("  none recorded\n", style="dim")
    return t


class TradeInspector(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,i", "close", "Close", id="inspector.close")]

    def __init__(self, detail: TradeDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspector"):
            yield Label(f"trade {self.detail.trade['id']}", id="inspector-title")
            yield Static(render_detail(self.detail), id="inspector-body")
            yield Static("Esc to close · ↑↓ to scroll", id="inspector-foot")

    def action_close(self) -> None:
        self.dismiss(None)

