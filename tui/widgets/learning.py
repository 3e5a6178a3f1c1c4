"""The three panes the product exists for: reward calculations, model loss, win rate.
Each shows real data only; until there is some, it says why instead of drawing zeros."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt
from tui.glossary import reward_label

MODEL_LABELS = {"cnn": "CNN", "dqn": "DQN", "cob_rl": "COB"}
MODEL_COLORS = {"cnn": "cyan", "dqn": "magenta", "cob_rl": "yellow"}
# The COB head trains on a policy-gradient objective: signed, and not a loss to minimise to
# zero, so it is reported as an objective and kept off the loss plot.
OBJECTIVES = frozenset({"cob_rl"})
REWARD_ORDER = ("final", "pnl", "base", "time", "risk", "consistency", "streak", "return_bp", "fees_bp",
                "hold_min", "sigma_h_bp")
TAG_WIDTH = 12  # "  -1.870 A→R"


def component_cells(components: dict[str, float]) -> list[str]:
    """Every component as "label value", final first; unknown keys by their own name."""
    keys = [k for k in REWARD_ORDER if k in components] + sorted(set(components) - set(REWARD_ORDER) - {"raw"})
    return [f"{reward_label(k)} {components[k]:+.3g}" for k in keys]


class RewardPane(Static):
    """Each closed trade, newest first: its reward, who opened→closed it, and every component,
    wrapped onto indented lines so nothing is cut at any width."""

    _snap: EngineSnapshot | None = None

    def update_from(self, snap: EngineSnapshot) -> None:
        self._snap = snap
        rewarded = [t for t in snap.trades if t.reward is not None]
        if not rewarded:
            waiting = "no closed trades yet" if not snap.trades else "closed trades await their reward"
            self.update(Text(waiting, style="dim"))
            return
        width = max(self.content_region.width, TAG_WIDTH + 16)
        out = Text(no_wrap=True, overflow="crop")
        for t in rewarded[:40]:
            out.append(f"{fmt.signed(t.reward, 3):>8}", style=fmt.sign_style(t.reward) + " bold")
            out.append(f" {fmt.source_tag(t.open_source)}→{fmt.source_tag(t.source)}", style="dim")
            col = TAG_WIDTH
            for cell in component_cells(t.reward_components or {}):
                if col + 2 + len(cell) > width:
                    out.append("\n" + " " * TAG_WIDTH)
                    col = TAG_WIDTH
                out.append("  " + cell)
                col += 2 + len(cell)
            out.append("\n")
        self.update(out)

    def on_resize(self) -> None:
        if self._snap is not None:
            self.update_from(self._snap)  # re-wrap at the new width


def step_ticks(lo: int, hi: int, n: int = 5) -> list[int]:
    """Whole training steps for the x axis, evenly spread, first and last included."""
    if hi <= lo:
        return [lo]
    step = max(1, round((hi - lo) / (n - 1)))
    ticks = list(range(lo, hi, step))
    if hi - ticks[-1] < step / 2 and len(ticks) > 1:
        ticks[-1] = hi
    else:
        ticks.append(hi)
    return ticks


def loss_range(values: list[float]) -> tuple[float, float, int]:
    """(low, high, spikes above high): from 0 (a loss is never negative) to the 95th
    percentile with headroom, so one spike does not flatten the rest; spikes are counted."""
    ordered = sorted(values)
    top = ordered[-1]
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    high = top if top <= 2 * p95 or len(ordered) < 20 else 1.5 * p95
    high = high if high > 0 else 1.0
    return 0.0, high * 1.05, sum(1 for v in values if v > high * 1.05)


class LossPane(Vertical):
    """Loss over training steps for the models trained on a loss, with the legend, steps/s,
    device and training lag in the line above the plot; the COB objective as a number."""

    def compose(self) -> ComposeResult:
        self._status = Static(id="loss-status")
        self._plot = PlotextPlot(id="loss-plot")
        self._shown: tuple | None = None
        yield self._status
        yield self._plot

    def update_from(self, snap: EngineSnapshot) -> None:
        key = (snap.models_status, tuple((m.name, m.steps, m.last_loss) for m in snap.models), snap.training_lag_p50_s)
        if key == self._shown:
            return
        self._shown = key
        status, plot = self._status, self._plot
        if not any(m.losses for m in snap.models):
            status.update(Text(snap.models_status if not snap.models else
                               f"{snap.models_status}\nno training yet: models train when trades close",
                               style="dim"))
            plot.display = False
            return
        plotted = [m for m in snap.models if m.losses and m.name not in OBJECTIVES]
        status.update(self._legend(snap))
        plot.display = bool(plotted)
        if not plotted:
            return
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("pro")
        values = [v for m in plotted for _, v in m.losses]
        lo, hi, spikes = loss_range(values)
        for m in plotted:
            plt.plot([s for s, _ in m.losses], [min(v, hi) for _, v in m.losses],
                     color=MODEL_COLORS.get(m.name, "white"), marker="braille")
        first = min(m.losses[0][0] for m in plotted)
        last = max(m.losses[-1][0] for m in plotted)
        ticks = step_ticks(int(first), int(last))
        plt.xticks(ticks, [str(t) for t in ticks])
        plt.ylim(lo, hi)
        plt.xlabel("training step" + (f" · {spikes} spike(s) above the top, drawn at it" if spikes else ""))
        plot.refresh()

    @staticmethod
    def _legend(snap: EngineSnapshot) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        for m in snap.models:
            label = MODEL_LABELS.get(m.name, m.name)
            t.append("■ " if m.name not in OBJECTIVES else "  ", style=MODEL_COLORS.get(m.name, "white"))
            if m.last_loss is None:
                t.append(f"{label} warming up  ", style="dim")
            elif m.name in OBJECTIVES:
                t.append(f"{label} {m.steps} objective {m.last_loss:+.3g}  ", style="dim")
            else:
                t.append(f"{label} {m.steps} loss {m.last_loss:.3g}  ")
        rate = sum(m.steps_per_s or 0.0 for m in snap.models)
        lag = "" if snap.training_lag_p50_s is None else f" · lag p50 {snap.training_lag_p50_s:.3g}s"
        t.append(f"\n{snap.models[0].device} {rate:.1f} steps/s{lag}", style="dim")
        return t


class WinRatePane(Static):
    def update_from(self, snap: EngineSnapshot) -> None:
        s = snap.stats
        if s.trades == 0:
            self.update(Text("no closed trades yet", style="dim"))
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        # The headline is the edge statistic, greedy trades only: explored and manual trades
        # say nothing about the models' own choice (they are counted under "all").
        t.append("greedy win rate ", style="dim")
        t.append(f"{fmt.pct(s.greedy_win_rate)}", style="bold")
        t.append(f"  ({s.greedy_wins}/{s.greedy_trades})\n")
        t.append("all trades ", style="dim")
        t.append(f"{fmt.pct(s.win_rate)}  ({s.wins}/{s.trades})\n")
        t.append("all, last 20 ", style="dim")
        t.append(fmt.pct(s.rolling_20))
        t.append("  last 50 ", style="dim")
        t.append(fmt.pct(s.rolling_50) + "\n")
        t.append("avg reward ", style="dim")
        t.append(fmt.signed(s.avg_reward, 3), style=fmt.sign_style(s.avg_reward))
        t.append("  avg PnL ", style="dim")
        t.append(fmt.signed(s.avg_pnl), style=fmt.sign_style(s.avg_pnl))
        t.append("\ntrades/h ", style="dim")
        t.append("—" if s.trades_per_hour is None else f"{s.trades_per_hour:.1f}")
        t.append("\n")
        for title, groups in (("by opener", s.by_source), ("by lead model (auto-opened)", s.by_model)):
            if groups:
                t.append(f"{title}\n", style="dim italic")
            for name, (n, rate) in groups.items():
                t.append(f"  {MODEL_LABELS.get(name, name):<7}", style="dim")
                t.append(f"{fmt.pct(rate):>6} of {n}\n")
        self.update(t)


class StatusLine(Static):
    """Engine health: feed state, events/s, rejects, account, DB path, last message."""

    def update_from(self, snap: EngineSnapshot) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        feed_style = {"connected": "green", "streaming": "green", "recovered": "green", "stale": "bold red", "reconnecting": "yellow", "ended": "yellow"}
        t.append(f"feed {snap.feed_state}", style=feed_style.get(snap.feed_state, ""))
        if snap.feed_detail and snap.feed_state in ("stale", "reconnecting", "gap", "ended"):
            t.append(f" ({snap.feed_detail})", style=feed_style.get(snap.feed_state, ""))
        rate = "—" if snap.events_per_s is None else f"{snap.events_per_s:,.0f}"
        t.append(f" · {rate} ev/s · {snap.events:,} ev")
        if snap.rejected:
            t.append(f" · {snap.rejected} rejected", style="yellow")
        t.append(f" · equity {fmt.price(snap.equity)}")
        t.append(f" · auto {'ON' if snap.auto else 'off'}", style="bold green" if snap.auto else "dim")
        decision = snap.desk.decision if snap.desk is not None else None
        if snap.auto and decision is not None and decision.blocker:
            t.append(f": {decision.blocker}", style="yellow")
        if snap.messages:
            t.append(f" · {snap.messages[0]}", style="yellow")
        t.append(f" · db {snap.db_path}", style="dim")
        self.update(t)
