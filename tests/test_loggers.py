import pytest

from spectral_xai.loggers import AutoWandbLogger, wandb_account_configured

from .helpers.wandb_records import finish_run, history


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
