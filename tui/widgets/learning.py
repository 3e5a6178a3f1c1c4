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

MODEL_LABELS = {"cnn": "CNN", "dqn": "DQN", "cob_rl": "COB"}
MODEL_COLORS = {"cnn": "cyan", "dqn": "magenta", "cob_rl": "yellow"}
# reward components in the order the comprehensive reward sums them (pnl, time, risk, consistency,
# streak), then the normalised preset's (net return and holding-horizon volatility, in bp)
COMPONENT_LABELS = (("pnl", "pnl%"), ("time", "time"), ("risk", "risk"), ("consistency", "cons"),
                    ("streak", "strk"), ("return_bp", "ret bp"), ("sigma_h_bp", "σh bp"))


class RewardPane(Static):
    """One line per closed trade, newest first: components and final reward, coloured by sign."""

    def update_from(self, snap: EngineSnapshot) -> None:
        rewarded = [t for t in snap.trades if t.reward is not None]
        if not rewarded:
            waiting = "no closed trades yet" if not snap.trades else "closed trades await their reward"
            self.update(Text(waiting, style="dim"))
            return
        out = Text(no_wrap=True, overflow="ellipsis")
        for t in rewarded[:40]:
            c = t.reward_components or {}
            out.append(f"{fmt.signed(t.reward, 3):>8}", style=fmt.sign_style(t.reward) + " bold")
            out.append(f" {t.source[0].upper()} ", style="dim")
            out.append("  ".join(f"{label} {c[key]:+.3g}" for key, label in COMPONENT_LABELS if key in c))
            out.append("\n")
        self.update(out)


class LossPane(Vertical):
    """Loss over training steps per model, with steps/s, device and the median training lag
    in event time (how far behind the data the models learn; 0 in lockstep); until a model
    has trained, a line saying why instead of an empty plot."""

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
        trained = [m for m in snap.models if m.losses]
        if not trained:
            status.update(Text(snap.models_status if not snap.models else
                               f"{snap.models_status}\nno training yet: models train when trades close",
                               style="dim"))
            plot.display = False
            return
        parts = [f"{MODEL_LABELS.get(m.name, m.name)} {m.steps} loss {m.last_loss:.3g}" if m.last_loss is not None
                 else f"{MODEL_LABELS.get(m.name, m.name)} warming up" for m in snap.models]
        status.update(Text(" · ".join(parts), style="dim", no_wrap=True, overflow="ellipsis"))
        plot.display = True
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("pro")
        for m in trained:
            steps = [s for s, _ in m.losses]
            losses = [v for _, v in m.losses]
            plt.plot(steps, losses, label=MODEL_LABELS.get(m.name, m.name), color=MODEL_COLORS.get(m.name, "white"),
                     marker="braille")
        rate = sum(m.steps_per_s or 0.0 for m in snap.models)
        lag = "" if snap.training_lag_p50_s is None else f"  lag p50 {snap.training_lag_p50_s:.3g}s"
        plt.title(f"{snap.models[0].device}  {rate:.1f} steps/s{lag}")
        plot.refresh()


class WinRatePane(Static):
    def update_from(self, snap: EngineSnapshot) -> None:
        s = snap.stats
        if s.trades == 0:
            self.update(Text("no closed trades yet", style="dim"))
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("win rate ", style="dim")
        t.append(f"{fmt.pct(s.win_rate)}", style="bold")
        t.append(f"  ({s.wins}/{s.trades})\n")
        t.append("last 20 ", style="dim")
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
        for title, groups in (("by source", s.by_source), ("by lead model", s.by_model)):
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
        if snap.messages:
            t.append(f" · {snap.messages[0]}", style="yellow")
        t.append(f" · db {snap.db_path}", style="dim")
        self.update(t)
