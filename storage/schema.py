"""The SQLite schema as an ordered list of migrations; `PRAGMA user_version` records how
many have run. Append new migrations; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the ledger
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        quote_balance REAL NOT NULL,
        fees_paid REAL NOT NULL,
        initial_balance REAL NOT NULL
    );
    CREATE TABLE signals (
        id TEXT PRIMARY KEY,
        ts_ns INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        kind TEXT NOT NULL,               -- auto | manual
        action TEXT NOT NULL,             -- buy | sell | hold | close
        confidence REAL,
        contributions TEXT NOT NULL,      -- JSON {"cnn": w, "dqn": w, "cob_rl": w}
        outputs TEXT NOT NULL,            -- JSON per-model outputs at the decision
        model_versions TEXT NOT NULL,     -- JSON
        state_ref TEXT,                   -- where the state tensors of this signal are kept
        venue TEXT NOT NULL
    );
    CREATE TABLE positions (
        id TEXT PRIMARY KEY,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty REAL NOT NULL,
        entry_price REAL NOT NULL,
        opened_ns INTEGER NOT NULL,
        source TEXT NOT NULL,
        signal_id TEXT REFERENCES signals(id),
        entry_qty REAL NOT NULL,
        exit_qty REAL NOT NULL,
        exit_value REAL NOT NULL,
        fees REAL NOT NULL,
        realized REAL NOT NULL,
        status TEXT NOT NULL              -- open | closed
    );
    CREATE INDEX positions_open ON positions(status) WHERE status = 'open';
    CREATE TABLE fills (
        order_id TEXT PRIMARY KEY,
        position_id TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty REAL NOT NULL,
        price REAL NOT NULL,
        fee REAL NOT NULL,
        slippage REAL NOT NULL,
        source TEXT NOT NULL,
        signal_id TEXT
    );
    CREATE TABLE closed_trades (
        id TEXT PRIMARY KEY REFERENCES positions(id),
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty REAL NOT NULL,
        entry_price REAL NOT NULL,
        exit_price REAL NOT NULL,
        entry_ns INTEGER NOT NULL,
        exit_ns INTEGER NOT NULL,
        gross_pnl REAL NOT NULL,
        fees REAL NOT NULL,
        pnl REAL NOT NULL,
        source TEXT NOT NULL,
        open_source TEXT NOT NULL,
        close_source TEXT NOT NULL,
        signal_id TEXT,
        venue TEXT NOT NULL
    );
    CREATE TABLE signal_links (
        position_id TEXT PRIMARY KEY REFERENCES positions(id),
        signal_id TEXT NOT NULL REFERENCES signals(id),
        models TEXT NOT NULL,             -- JSON contribution weights at entry
        registered_ns INTEGER NOT NULL
    );
    CREATE TABLE rewards (
        trade_id TEXT PRIMARY KEY REFERENCES closed_trades(id),
        preset TEXT NOT NULL,
        final REAL NOT NULL,
        components TEXT NOT NULL,         -- JSON
        ts_ns INTEGER NOT NULL
    );
    CREATE TABLE training_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        trade_id TEXT REFERENCES closed_trades(id),
        kind TEXT NOT NULL,               -- trade_outcome | horizon_label
        model TEXT NOT NULL,
        weight REAL NOT NULL,
        loss REAL,
        status TEXT NOT NULL,
        device TEXT NOT NULL,
        model_version INTEGER,
        ts_ns INTEGER NOT NULL
    );
    CREATE INDEX training_events_trade ON training_events(trade_id);
    CREATE TABLE pending_training (
        trade_id TEXT PRIMARY KEY REFERENCES closed_trades(id),
        enqueued_ns INTEGER NOT NULL
    );
    """,
    # 2: what training needs to survive a restart
    """
    CREATE TABLE signal_states (
        signal_id TEXT PRIMARY KEY REFERENCES signals(id),
        schema TEXT NOT NULL,             -- feature-schema fingerprint of the arrays
        arrays BLOB NOT NULL              -- np.savez_compressed: vector, market_tensor, cob
    );
    CREATE TABLE horizon_outcomes (
        signal_id TEXT NOT NULL REFERENCES signals(id),
        horizon_s INTEGER NOT NULL,
        return_bp REAL NOT NULL,
        label TEXT NOT NULL,              -- up | flat (no trade: |move| < round-trip cost) | down
        ts_ns INTEGER NOT NULL,
        PRIMARY KEY (signal_id, horizon_s)
    );
    """,
    # 3: how each price was obtained (book walk, exchange, or a bar model); rows written before
    # this migration did not record it
    """
    ALTER TABLE fills ADD COLUMN fill_model TEXT NOT NULL DEFAULT 'unrecorded';
    ALTER TABLE positions ADD COLUMN entry_fill_model TEXT NOT NULL DEFAULT 'unrecorded';
    ALTER TABLE closed_trades ADD COLUMN exit_fill_model TEXT NOT NULL DEFAULT 'unrecorded';
    """,
    # 4: every position and account belongs to one scope: the venue kind (sim | replay |
    # live), the order mode (paper | live) and the data (replay: the recorded files; live:
    # the exchange; sim: ""). A session sees only its own scope. Rows from before this
    # migration get the venue their trade or signal recorded, paper mode unless the fill came
    # from the exchange, and data "" for sim, "unrecorded" otherwise (never restored).
    """
    ALTER TABLE positions ADD COLUMN venue TEXT NOT NULL DEFAULT 'sim';
    ALTER TABLE positions ADD COLUMN mode TEXT NOT NULL DEFAULT 'paper';
    ALTER TABLE positions ADD COLUMN data TEXT NOT NULL DEFAULT '';
    UPDATE positions SET venue = COALESCE(
        (SELECT venue FROM closed_trades WHERE closed_trades.id = positions.id),
        (SELECT venue FROM signals WHERE signals.id = positions.signal_id), 'sim');
    UPDATE positions SET mode = 'live' WHERE entry_fill_model = 'exchange';
    UPDATE positions SET data = 'unrecorded' WHERE venue != 'sim';
    CREATE INDEX positions_scope ON positions(venue, mode, data, status);
    CREATE TABLE accounts (
        venue TEXT NOT NULL,
        mode TEXT NOT NULL,
        data TEXT NOT NULL,
        quote_balance REAL NOT NULL,
        fees_paid REAL NOT NULL,
        initial_balance REAL NOT NULL,
        PRIMARY KEY (venue, mode, data)
    );
    INSERT INTO accounts (venue, mode, data, quote_balance, fees_paid, initial_balance)
        SELECT v, CASE WHEN EXISTS (SELECT 1 FROM fills WHERE fill_model = 'exchange') THEN 'live' ELSE 'paper' END,
               CASE WHEN v = 'sim' THEN '' ELSE 'unrecorded' END, quote_balance, fees_paid, initial_balance
        FROM account, (SELECT COALESCE((SELECT venue FROM closed_trades ORDER BY exit_ns DESC LIMIT 1), 'sim') AS v);
    DROP TABLE account;
    """,
    # 5: how each decision was taken: the action (HOLD and EXIT are decisions too), whether it
    # was the models' greedy choice or an exploration draw, the propensity of the action taken,
    # and the calibrated probability that its trade nets > 0 (NULL while calibrating)
    """
    ALTER TABLE signals ADD COLUMN decision TEXT;
    ALTER TABLE signals ADD COLUMN policy TEXT NOT NULL DEFAULT 'greedy';
    ALTER TABLE signals ADD COLUMN propensity REAL;
    ALTER TABLE signals ADD COLUMN p_win REAL;
    """,
    # 6: live orders journaled before they are sent (client order id), resolved with their
    # fill in the fill's transaction, or as rejected / never placed; a start looks up every
    # order still 'sent' at the exchange by its client id
    """
    CREATE TABLE live_orders (
        client_id TEXT PRIMARY KEY,       -- sent to the exchange as its client order id
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        qty REAL NOT NULL,
        source TEXT NOT NULL,
        signal_id TEXT,                   -- the signal of the position it opens, stored before sending
        sent_ns INTEGER NOT NULL,
        status TEXT NOT NULL,             -- sent | filled | rejected | not_placed
        exchange_id TEXT,
        detail TEXT,
        venue TEXT NOT NULL,
        mode TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX live_orders_sent ON live_orders(status) WHERE status = 'sent';
    """,
)
