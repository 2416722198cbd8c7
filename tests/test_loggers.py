import pytest

from spectral_xai.loggers import AutoWandbLogger, wandb_account_configured


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
