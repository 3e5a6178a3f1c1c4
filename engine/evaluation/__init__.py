"""Evaluation: the statistics and baselines behind `tickdesk evaluate`'s verdict.

The stage after `engine.runtime`. It reads closed trades, bars and predicted probabilities as
plain arrays and answers one question honestly: did the model show an edge over what chance,
a naive rule, and the number of configurations tried would produce? Every interval is a
day-block bootstrap (trades on one UTC day share a market regime, so they are resampled
together), every baseline pays the same costs, and the verdict can, and by default does,
say "no edge shown". Pure numpy plus engine.core; no torch, no scipy.

Modules, by job: records (inputs), normal (Φ, Φ⁻¹), bootstrap, trade_stats, sharpe,
forecast, learning_curve (skill against training labels), baselines, trials (the trials
log), evidence (trades + bars -> the numbers) and verdict (the numbers -> one line). The
`tickdesk evaluate` command around them: plan (walk-forward folds), spec (a job and its key),
jobs (one job in a temporary workspace) with ledger_rows (its ledger read back), pool (process
pool or Ray, and the cache), analysis (jobs -> numbers), runner (end to end) and report.
"""
