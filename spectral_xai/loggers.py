"""A W&B logger that never costs a run: offline when no account is configured, and offline too
when W&B cannot be reached at the start or stops answering midway, with one warning that says how
to upload the run later; its checkpoints logged as model artifacts online and offline alike."""
from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any, Literal, Mapping, Union

from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers.utilities import _scan_checkpoints

from .settings import SettingsError, check_writable

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
    instant before wandb noticed its service gone is lost with it).

    ``log_model`` as Lightning's (``True``: every checkpoint of a ``ModelCheckpoint`` once fitting
    ends; ``"all"``: each as it is written; ``False``: none), but offline too (Lightning refuses it
    there; ``wandb sync`` uploads offline artifacts with the run): a ``model-<run id>`` artifact of
    type ``model`` holding ``model.ckpt`` and the run's ``split.json``, with the checkpoint's score
    and the last logged metrics as metadata. Its ``save_dir`` must be writable, checked at once."""

    def __init__(self, offline: bool | None = None, log_model: Union[Literal["all"], bool] = False,
                 init_timeout: float = 60.0, **kwargs):
        import wandb

        if log_model not in (True, False, "all"):
            raise SettingsError(f"log_model {log_model!r}: choose true, false or 'all'")
        if log_model:
            # one clear error at the start rather than a failed upload at the end of training
            check_writable("logger save_dir", Path(kwargs.get("save_dir") or "."),
                           "log_model keeps the run's checkpoints there as W&B artifacts")
        if offline is None:
            offline = wandb_offline_wanted()
        kwargs.setdefault("settings", wandb.Settings(init_timeout=init_timeout))
        super().__init__(offline=offline, log_model=False, **kwargs)
        self._log_model = log_model
        self._last_metrics: dict[str, float] = {}

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
        self._experiment, self._offline = None, True
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

    def log_metrics(self, metrics: Mapping[str, Any], *args, **kwargs) -> None:
        self._last_metrics.update({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
        self._surviving(WandbLogger.log_metrics, metrics, *args, **kwargs)

    def log_table(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_table, *args, **kwargs)

    def log_text(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_text, *args, **kwargs)

    def log_image(self, *args, **kwargs) -> None:
        self._surviving(WandbLogger.log_image, *args, **kwargs)

    def _scan_and_log_checkpoints(self, checkpoint_callback: ModelCheckpoint) -> None:
        """Each checkpoint not logged yet as a version of ``model-<run id>`` (see the class)."""
        import wandb

        for written, path, score, _ in _scan_checkpoints(checkpoint_callback, self._logged_model_time):
            metadata = {"score": None if score is None else float(score), "original_filename": Path(path).name,
                        "monitor": checkpoint_callback.monitor, "metrics": dict(self._last_metrics)}
            artifact = wandb.Artifact(name=f"model-{self.experiment.id}", type="model", metadata=metadata)
            artifact.add_file(path, name="model.ckpt")
            split = Path(path).parent / "split.json"
            if split.is_file():
                artifact.add_file(str(split), name="split.json")
            aliases = ["latest", "best"] if path == checkpoint_callback.best_model_path else ["latest"]
            self.experiment.log_artifact(artifact, aliases=aliases)
            self._logged_model_time[path] = written
