"""The suite's isolation from the developer's machine (tests/conftest.py `isolated_home`),
checked where it matters: the user config and the default workspace (ledger, models)
resolve inside the test's own home, in this process and in a CLI subprocess, and a user
config placed there is honoured (so the isolation redirects the lookup rather than
disabling it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine import paths
from engine.config import load_settings
from tests.conftest import REAL_HOME, REPO


def write_user_config(home: Path, text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "tickdesk" / "config.toml"
    assert path.is_relative_to(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_user_locations_resolve_inside_the_tests_own_home(isolated_home):
    for where in (paths.user_config(), paths.default_workspace(), load_settings().db_path,
                  load_settings().checkpoint_path):
        assert where.is_relative_to(isolated_home), where
        assert isolated_home == REAL_HOME or not where.is_relative_to(REAL_HOME)
    assert Path("~").expanduser() == isolated_home
    assert not any(isolated_home.iterdir()), "looking a path up creates nothing"


def test_a_user_config_in_the_home_is_honoured_below_an_explicit_config(isolated_home, tmp_path):
    write_user_config(isolated_home, '[models]\nconfidence_threshold = 0.99\n[sim]\ntrades_per_s = 0.5\n')
    explicit = tmp_path / "c.toml"
    explicit.write_text("[sim]\ntrades_per_s = 2.0\n")
    s = load_settings(explicit)
    assert s.models.confidence_threshold == 0.99          # user config over the shipped default
    assert s.sim.trades_per_s == 2.0                      # --config over the user config
    assert load_settings(use_user_config=False).models.confidence_threshold == 0.5


def test_each_test_starts_with_no_user_config(isolated_home):
    # the previous test wrote one into its own home; this one must not see it
    assert not paths.user_config().exists()
    assert load_settings().models.confidence_threshold == 0.5


def test_a_cli_subprocess_reads_the_isolated_user_config(isolated_home, tmp_path):
    user = write_user_config(isolated_home, "[sim]\nnot_a_key = 1\n")
    proc = subprocess.run([sys.executable, str(REPO / "cli.py"), "run", "--db", str(tmp_path / "x.db")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert str(user) in proc.stderr and "sim.not_a_key: unknown key" in proc.stderr
    probe = "from engine import paths; print(paths.user_config()); print(paths.workspace_layout('', '').ledger)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.stdout.split() == [str(user), str(isolated_home / ".local/share/tickdesk/default/ledger.db")]


def test_hypothesis_profile_follows_ci_and_reaches_decorated_settings():
    from hypothesis import settings

    from tests.conftest import _in_ci

    current, decorated = settings.default, settings(max_examples=300)  # as tests/engine/learning/test_reward.py
    for s in (current, decorated):
        assert s.deadline is None, "a loaded machine is not a failure"
    if not os.environ.get("HYPOTHESIS_PROFILE"):
        for s in (current, decorated):
            assert s.derandomize is _in_ci() and (s.database is None) is _in_ci() and s.print_blob is _in_ci()
    assert decorated.max_examples == 300
