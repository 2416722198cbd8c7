"""Sharing work among the processes of a distributed run (Lightning's DDP or Fabric's), one helper
for the training callback and explain.py alike. Without a process group both are no-ops."""
from __future__ import annotations

from typing import Any, Sequence, TypeVar

import torch.distributed as dist

T = TypeVar("T")


def world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(items: Sequence[T]) -> list[T]:
    """This process's share of ``items``: every world-size-th item from its rank on, so that the
    shares differ in length by at most one and together hold every item once."""
    rank, size = world()
    return list(items[rank::size])


def gather(share: Any) -> list[Any]:
    """Every process's ``share`` (picklable, tensors in host memory), in rank order, on every
    process. all_gather rather than gather: NCCL has no object gather to one rank."""
    _, size = world()
    if size == 1:
        return [share]
    shares: list[Any] = [None] * size
    dist.all_gather_object(shares, share)
    return shares
