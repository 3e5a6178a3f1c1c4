"""`tickdesk bench all`: the figures of every benchmark in one table, beside their bars.

The benchmarks run on their own (engine/bench/replay.py, engine/bench/state.py and the
models' benchmark, which the CLI runs because only the runtime layer may import models);
this module only turns their results into rows: what was measured, the figure, the bar it
has to meet and the longer-term goal, as in docs/PERFORMANCE.md.
"""

from __future__ import annotations

from engine.core.hardware import hardware_info


def _row(what: str, figure: str, bar: str, goal: str, met: bool | None) -> dict:
    return {"what": what, "figure": figure, "bar": bar, "goal": goal, "met": met}


def summary_rows(replay: dict | None, state: dict | None, models: dict | None) -> list[dict]:
    """One row per figure the benchmarks produced; a benchmark that did not run gives none."""
    rows: list[dict] = []
    if replay is not None:
        sec, ratio = replay["seconds"], replay["ratio_to_floor"]
        floor = replay["floor_seconds"]
        rows.append(_row(
            f"replay, {replay['lines']:,} lines / {replay['events']:,} events, models off, vs stdlib json floor"
            f" ({floor:.2f} s = gunzip {sec['read']:.2f} + json.loads {sec['json']:.2f})",
            f"{sec['pipeline']:.2f} s = {ratio['pipeline']:.2f}x (venue parse {ratio['venue']:.2f}x)",
            "<= 2x", "<= 1.2x", ratio["pipeline"] <= 2.0))
    if state is not None:
        bars, book = state["bars"], state["book"]
        rows.append(_row("bench state, 1m bars with a new bar each build",
                         f"p50 {bars['p50_ms']:.3f} ms, p99 {bars['p99_ms']:.3f} ms",
                         "p50 <= 1 ms", "p50 <= 0.3 ms", bars["p50_ms"] <= 1.0))
        rows.append(_row("bench state, ticks + L2 book", f"p50 {book['p50_ms']:.3f} ms, p99 {book['p99_ms']:.3f} ms",
                         "p50 <= 1 ms, p99 <= 3 ms", "", book["p50_ms"] <= 1.0 and book["p99_ms"] <= 3.0))
    if models is not None:
        p99 = models["inference_ms"]["p99"]
        dqn32 = models["train_updates_per_s"].get("dqn", {}).get("32")
        device = models["hardware"].get("device", "cpu")
        rows.append(_row(f"bench models ({device}): one decision p99 / DQN updates/s at batch 32",
                         f"{p99:.2f} ms / " + (f"{dqn32:.1f}" if dqn32 is not None else "n/a"),
                         "<= 5 ms / >= 50", "<= 2 ms / >= 100",
                         p99 <= 5.0 and dqn32 is not None and dqn32 >= 50))
        micro = models.get("micro_batch")
        if micro:
            rows.append(_micro_batch_row(micro, device))
            rows.append(_per_sample_row(micro["cnn"], device))
    return rows


def _micro_batch_row(micro: dict, device: str, k: str = "8") -> dict:
    """The three models' forward passes over `k` decisions at once against one at a time: the
    saving, and whether the batched rows are the one-by-one rows bit for bit (the bar: a
    micro-batched lockstep run must give the same trades)."""
    one = sum(by_k["1"]["ms_per_decision"] for by_k in micro.values())
    batched = sum(by_k[k]["ms_per_decision"] for by_k in micro.values())
    equal = sum(by_k[k]["rows_bit_equal"] for by_k in micro.values())
    rows = int(k) * len(micro)
    return _row(f"bench models ({device}): the 3 models' forward, batch {k} vs batch 1, per decision",
                f"{batched:.2f} ms vs {one:.2f} ms; {equal} of {rows} rows bit-equal",
                "rows bit-equal to batch 1", "", equal == rows)


def _per_sample_row(cnn: dict, device: str, k: str = "8") -> dict:
    """The CNN (most of a decision's inference) over `k` decisions with one matrix product
    per sample and layer, against one decision at a time: the saving that stays bit-equal."""
    batched = cnn[k]["per_sample_gemm"]
    return _row(f"bench models ({device}): the CNN's forward, batch {k} with one product per sample vs batch 1",
                f"{batched['ms_per_decision']:.2f} ms vs {cnn['1']['ms_per_decision']:.2f} ms;"
                f" {batched['rows_bit_equal']} of {k} rows bit-equal",
                "rows bit-equal to batch 1", "", batched["rows_bit_equal"] == int(k))


def run_summary(replay: dict | None, state: dict | None, models: dict | None) -> dict:
    return {"hardware": hardware_info(), "rows": summary_rows(replay, state, models),
            "replay": replay, "state": state, "models": models}


def format_summary(result: dict) -> str:
    hw = result["hardware"]
    head = ("what", "figure", "bar", "met")
    body = [(r["what"], r["figure"], r["bar"], {True: "yes", False: "no", None: ""}[r["met"]]) for r in result["rows"]]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"hardware: {hw['cpu']}, {hw['cores']} cores, Python {hw['python']}, {hw['os']}")
    return "\n".join(lines)
