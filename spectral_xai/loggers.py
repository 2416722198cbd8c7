"""A W&B logger that never costs a run: offline when no account is configured, and offline too
when W&B cannot be reached, with one warning that says how to upload the run later."""
from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path

from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.loggers.logger import rank_zero_experiment

log = logging.getLogger(__name__)


def wandb_account_configured() -> bool:
    """True when wandb would find credentials: an API key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
        hosts = netrc.netrc(path).hosts if path.is_file() else {}
    except (netrc.NetrcParseError, OSError):
        return False
    return any("wandb" in host for host in hosts)


def wandb_offline_wanted() -> bool:
    """Offline unless an account is configured and ``WANDB_MODE`` does not say otherwise."""
    return os.environ.get("WANDB_MODE") in ("offline", "dryrun", "disabled") or not wandb_account_configured()


class AutoWandbLogger(WandbLogger):
    """``WandbLogger`` with ``offline=None`` meaning :func:`wandb_offline_wanted`. When an online
    start fails (no route to W&B, a timeout after ``init_timeout`` seconds), the run starts again
    offline in the same ``save_dir``: training never dies for want of a dashboard. Model upload
    stays off offline (W&B refuses it there)."""

    def __init__(self, offline: bool | None = None, log_model: bool = False, init_timeout: float = 60.0, **kwargs):
        import wandb

        if offline is None:
            offline = wandb_offline_wanted()
        kwargs.setdefault("settings", wandb.Settings(init_timeout=init_timeout))
        super().__init__(offline=offline, log_model=log_model and not offline, **kwargs)

    @property
    @rank_zero_experiment
    def experiment(self):
        if self._experiment is None and not self._offline:
            try:
                return WandbLogger.experiment.fget(self)
            except Exception as err:  # wandb raises CommError, UsageError or its own timeout error
                import wandb

                wandb.teardown()
                self._offline, self._log_model = True, False
                folder = Path(self._wandb_init.get("dir") or ".") / "wandb"
                log.warning("W&B could not be reached (%s: %s); logging to an offline run under %s instead; "
                            "upload it later with `wandb sync %s/offline-run-*`",
                            type(err).__name__, str(err).splitlines()[0][:200], folder, folder)
        return WandbLogger.experiment.fget(self)
