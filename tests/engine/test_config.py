import subprocess
import sys

import pytest

from engine.config import ConfigError, load_settings
from tests.conftest import REPO


def test_shipped_defaults_load():
    s = load_settings(use_user_config=False)
    assert s.venue.kind == "sim" and s.venue.traded == "ETH/USDT"
    assert s.trading.taker_fee == pytest.approx(0.0002)
    assert s.models.base_weights == {"cnn": 0.35, "dqn": 0.45, "cob_rl": 0.20}


def test_user_file_overrides_and_unknown_key_is_named(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[trading]\ntaker_fee = 0.001\n')
    assert load_settings(good, use_user_config=False).trading.taker_fee == 0.001
    bad = tmp_path / "bad.toml"
    bad.write_text('[trading]\ntaker_fe = 0.001\n')
    with pytest.raises(ConfigError, match=r"trading\.taker_fe: unknown key"):
        load_settings(bad, use_user_config=False)


@pytest.mark.parametrize(
    "text, key",
    [
        ('[trading]\ntaker_fee = -1\n', "trading.taker_fee"),
        ('[venue]\nkind = "moon"\n', "venue.kind"),
        ('[venue]\nsymbols = ["ETHUSDT"]\ntraded = "ETHUSDT"\n', "venue.symbols"),
        ('[engine]\nspeed = "fast"\n', "engine.speed"),
        ('[trading]\norder_qty = { "ETH/USDT" = 0 }\n', "trading.order_qty"),
    ],
)
def test_bad_values_name_their_key(tmp_path, text, key):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(f, use_user_config=False)


def test_cli_exits_2_with_one_line_reason(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[risk]\nstop_loss_pct = "lots"\n')
    proc = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "run", "--config", str(f), "--db", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "risk.stop_loss_pct" in lines[0]
    proc = subprocess.run([sys.executable, str(REPO / "cli.py"), "run", "--speed", "0", "--db", str(tmp_path / "x.db")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "engine.speed" in proc.stderr
