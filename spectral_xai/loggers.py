"""A W&B logger that goes offline by itself when no account is configured, so no run fails for want of a network."""
from __future__ import annotations

import netrc
import os
from pathlib import Path

from pytorch_lightning.loggers import WandbLogger


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


class AutoWandbLogger(WandbLogger):
    """``WandbLogger`` with ``offline=None`` meaning: online only if an account is configured and
    ``WANDB_MODE`` does not say otherwise. Model upload stays off offline (W&B refuses it there)."""

    def __init__(self, offline: bool | None = None, log_model: bool = False, **kwargs):
        if offline is None:
            offline = os.environ.get("WANDB_MODE") in ("offline", "disabled") or not wandb_account_configured()
        super().__init__(offline=offline, log_model=log_model and not offline, **kwargs)
