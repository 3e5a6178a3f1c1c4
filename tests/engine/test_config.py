import subprocess
import sys
import tomllib

import pytest
from pydantic import BaseModel

from engine import paths
from engine.config import ConfigError, Settings, load_settings
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
        ('[trading]\norder_qty = { "ETH/USDT" = 0 }\n', "trading.order_qty.ETH/USDT"),
        ('[sim]\nprices = { "BTC/USDT" = nan }\n', "sim.prices.BTC/USDT"),
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


def _fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}", field
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _fields(field.annotation, f"{prefix}{name}.")


def test_defaults_live_only_in_the_shipped_config():
    with_default = [key for key, field in _fields(Settings) if not field.is_required()]
    assert not with_default, f"in-code defaults (config.toml is the one source): {with_default}"
    shipped = tomllib.loads(paths.shipped_config().read_text())
    sections = {key for key, _ in _fields(Settings) if "." not in key}
    assert set(shipped) == sections and all(set(shipped[s]) == set(Settings.model_fields[s].annotation.model_fields)
                                            for s in sections), "config.toml must set every key"


def test_the_root_config_is_the_shipped_one_and_the_one_packaged():
    assert (REPO / "config.toml").resolve() == paths.shipped_config(), "the root config.toml links to the shipped one"
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = [(REPO / pkg / pattern).resolve() for pkg, patterns in package_data.items() for pattern in patterns
               if pattern.endswith("config.toml")]
    assert shipped == [paths.shipped_config()], "the wheel must carry the shipped config.toml"


def test_speed_is_parsed_once_in_the_settings():
    assert load_settings(use_user_config=False).engine.speed == 1.0
    unpaced = load_settings(use_user_config=False, overrides={"engine": {"speed": "max"}}).engine
    assert unpaced.speed is None and unpaced.speed_text == "max"
    fast = load_settings(use_user_config=False, overrides={"engine": {"speed": "20"}}).engine
    assert fast.speed == 20.0 and fast.speed_text == "20"
