"""A W&B logger that never costs a run: offline when no account is configured, and offline too
when W&B cannot be reached at the start or stops answering midway, with one warning that says how
to upload the run later."""
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
    offline in the same ``save_dir``: training never dies for want of a dashboard. When logging
    fails midway (the W&B service process gone, its connection reset), the same run id continues
    as an offline run in the same folder and the failed call is repeated there (what was sent in the
    instant before wandb noticed its service gone is lost with it). Model upload stays off offline
    (W&B refuses it there)."""

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
                self._continue_offline(err, "W&B could not be reached")
        return WandbLogger.experiment.fget(self)

    def _continue_offline(self, err: BaseException, what: str) -> None:
        import wandb

        failed_run = self._experiment
        run_id = getattr(failed_run, "id", None) or self._wandb_init.get("id")
        for close in ([failed_run.finish] if failed_run is not None else []) + [wandb.teardown]:
            try:
                close()
            except Exception:  # both raise when the service they talk to is the one that failed
                pass
        if failed_run is not None and wandb.run is failed_run:
            from wandb.sdk.lib import module

            module.unset_globals()  # else Lightning would attach the new run to the dead one
        self._experiment, self._offline, self._log_model = None, True, False
        if run_id:
            self._wandb_init.update(id=run_id, resume="allow")
        folder = Path(self._wandb_init.get("dir") or ".") / "wandb"
        reason = (str(err).splitlines() or [""])[0][:200]
        log.warning("%s (%s: %s); logging to an offline run under %s instead; upload it later with "
                    "`wandb sync %s/offline-run-*`", what, type(err).__name__, reason, folder, folder)

    def _surviving(self, log_call, *args, **kwargs):
        """``log_call`` (a ``WandbLogger`` method); when the running W&B service fails under it, the
        run moves offline once and the call is repeated there."""
        from wandb.errors import CommError
        from wandb.sdk.mailbox.mailbox import MailboxClosedError

        try:
            return log_call(self, *args, **kwargs)
        except (OSError, CommError, MailboxClosedError) as err:  # a dead service resets its socket
            if self._experiment is None:
                raise
            self._continue_offline(err, "W&B stopped answering during the run")
            return log_call(self, *args, **kwargs)

    def log_hyperparams(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_hyperparams, *args, **kwargs)

    def log_metrics(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_metrics, *args, **kwargs)

    def log_table(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_table, *args, **kwargs)

    def log_text(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_text, *args, **kwargs)

    def log_image(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_image, *args, **kwargs)
