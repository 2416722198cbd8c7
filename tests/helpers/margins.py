"""Thresholds that a trained net must reach, recorded with the value it reached: the test asserts
it, and benchmarks/net_margins.py reads the records of runs over several training seeds to show how
far from its threshold each value lies."""
from __future__ import annotations

import json
import operator
import os
from typing import Callable

#: The training seed of the shared nets: 0, or another to measure how far each threshold holds over
#: seeds (benchmarks/net_margins.py sets it).
NET_SEED = int(os.environ.get("SPECTRAL_XAI_NET_SEED", "0"))

COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def reached(record_property: Callable[[str, object], None], name: str, value: float, op: str,
            threshold: float) -> bool:
    """Record ``value`` against ``threshold`` under ``name`` (pytest's ``record_property``); whether it holds."""
    record_property(f"margin: {name}", json.dumps({"value": float(value), "op": op, "threshold": threshold}))
    return COMPARE[op](value, threshold)


def reach(record_property: Callable[[str, object], None], name: str, value: float, op: str, threshold: float) -> None:
    """``reached``, asserted."""
    assert reached(record_property, name, value, op, threshold), f"{name}: {value:.4g} is not {op} {threshold}"
