import json
import os
import subprocess
import sys

import pytest

from spectral_xai.loggers import AutoWandbLogger, wandb_account_configured
from spectral_xai.settings import SettingsError

from .helpers.training import REPO
from spectral_xai.wandb_records import finish_run, history


@pytest.fixture
def no_account(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path / "netrc"


def test_without_an_account_the_logger_is_offline(no_account, tmp_path):
    assert not wandb_account_configured()
    assert AutoWandbLogger(save_dir=str(tmp_path))._offline


def test_a_netrc_entry_or_a_key_counts_as_an_account(no_account, monkeypatch):
    no_account.write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    assert wandb_account_configured()
    no_account.unlink()
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_account_configured()


def test_wandb_mode_offline_wins_over_an_account(no_account, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert AutoWandbLogger(save_dir=str(tmp_path))._offline


def test_unreachable_wandb_falls_back_to_an_offline_run_in_the_same_folder(no_account, monkeypatch, tmp_path, caplog):
    """A real wandb start against a closed port on this machine's loopback (no mock of wandb)."""
    import logging

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    logger = AutoWandbLogger(save_dir=str(tmp_path), project="test", init_timeout=5)
    assert not logger._offline
    with caplog.at_level(logging.WARNING):
        logger.log_metrics({"train/loss": 1.5}, step=0)
    finish_run(logger)
    assert logger._offline
    warnings = [r.getMessage() for r in caplog.records if "W&B could not be reached" in r.getMessage()]
    assert len(warnings) == 1 and "wandb sync" in warnings[0] and str(tmp_path / "wandb") in warnings[0]
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert any(row.get("train/loss") == 1.5 for row in history(next(run.glob("run-*.wandb"))))


MIDWAY = """
import json, logging, os, signal, sys, time
from pathlib import Path
from spectral_xai.loggers import AutoWandbLogger
from spectral_xai.wandb_records import finish_run

out = Path(sys.argv[1])
warnings = []
logging.getLogger("spectral_xai").addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: warnings.append(r.getMessage())})())
logger = AutoWandbLogger(save_dir=str(out), project="test", offline=True)
logger.log_metrics({"train/loss": 1.0}, step=0)
run_id = logger.experiment.id
killed = 0
for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
    for pid in children.read_text().split():
        if b"wandb-core" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(int(pid), signal.SIGKILL)  # what an OOM-killed or crashed W&B service looks like
            killed += 1
time.sleep(1)  # what is sent before wandb notices its service gone goes down with it
logger.log_metrics({"train/loss": 2.0}, step=1)
logger.log_metrics({"train/loss": 3.0}, step=2)
same_id = logger.experiment.id == run_id
finish_run(logger)
print(json.dumps({"killed": killed, "run_id": run_id, "same_id": same_id, "warnings": warnings}))
"""


def test_a_wandb_service_dying_midway_continues_the_run_offline(tmp_path):
    """The real W&B service process is SIGKILLed between two log calls (in a child process, so that
    wandb's process-wide state of the other tests is untouched); the calls after it land in an
    offline run with the same id in the same folder."""
    result = subprocess.run([sys.executable, "-c", MIDWAY, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["killed"] == 1 and outcome["same_id"]
    warnings = [w for w in outcome["warnings"] if "W&B stopped answering" in w]
    assert len(warnings) == 1 and "wandb sync" in warnings[0]
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(run.name.endswith(outcome["run_id"]) for run in runs)
    # The first value may or may not have left the service before it died; the later ones are all kept.
    losses = [[row["train/loss"] for row in history(next(run.glob("run-*.wandb"))) if "train/loss" in row]
              for run in runs]
    assert losses[0] in ([], [1.0]) and losses[1] == [2.0, 3.0]


def test_log_model_with_an_unwritable_save_dir_is_one_clear_error_at_start(no_account, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match=r"a_file/runs: not writable .*log_model"):
        AutoWandbLogger(save_dir=str(blocker / "runs"), offline=True, log_model=True)
    with pytest.raises(SettingsError, match="log_model 'some': choose true, false or 'all'"):
        AutoWandbLogger(save_dir=str(tmp_path), offline=True, log_model="some")
    assert AutoWandbLogger(save_dir=str(blocker / "runs"), offline=True)._log_model is False  # nothing to keep there
