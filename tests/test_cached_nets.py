"""The content-keyed cache of trained nets: a key is trained once and read after; any change to what
decides the weights is a new key; a damaged entry is rebuilt, bit for bit; an unwritable folder falls back."""
import ast
import logging

import torch

from spectral_xai import cached_nets

TINY = ("--data.image_size", "128", "--data.batch_size", "2", "--data.num_workers", "0", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.callbacks", "[]",
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false")
DATA = {"num_scenes": 12, "seed": 0}


def weights(checkpoint) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, weights_only=True)["state_dict"]


def test_a_net_is_trained_once_per_key_and_a_damaged_one_is_rebuilt_the_same(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(cached_nets.CACHE_VARIABLE, str(tmp_path / "cache"))
    first = cached_nets.trained_net("mir", args=TINY, data=DATA)
    stamp = first.stat().st_mtime_ns
    assert cached_nets.trained_net("mir", args=TINY, data=DATA) == first and first.stat().st_mtime_ns == stamp
    assert (first.parent / "split.json").is_file() and first.parent.parent.name.startswith("mir-seed0-")
    original = weights(first)
    other_seed = cached_nets.trained_net("mir", seed=1, args=TINY, data=DATA)
    assert other_seed != first
    assert any(not torch.equal(value, original[name]) for name, value in weights(other_seed).items())
    first.write_bytes(first.read_bytes()[:1000])  # a copy cut short
    with caplog.at_level(logging.WARNING, logger="spectral_xai.settings"):
        again = cached_nets.trained_net("mir", args=TINY, data=DATA)
    assert again == first and "incomplete or damaged; rebuilding" in caplog.text
    rebuilt = weights(again)
    assert all(torch.equal(value, rebuilt[name]) for name, value in original.items())  # same key, same net
    datasets = list((tmp_path / "cache" / "datasets").iterdir())
    assert len([d for d in datasets if d.is_dir()]) == 1  # both nets read one dataset


def test_a_dataset_missing_a_file_is_written_again(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(cached_nets.CACHE_VARIABLE, str(tmp_path))
    root = cached_nets.synthetic_dataset(**DATA)
    images = sorted(root.rglob("*.png"))
    images[0].unlink()
    with caplog.at_level(logging.WARNING, logger="spectral_xai.settings"):
        assert cached_nets.synthetic_dataset(**DATA) == root
    assert images[0].is_file() and "rebuilding" in caplog.text


def test_the_key_follows_what_decides_the_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(cached_nets.CACHE_VARIABLE, str(tmp_path))
    source = cached_nets.source_digest(cached_nets.WEIGHT_SOURCES)
    assert source == cached_nets.source_digest(cached_nets.WEIGHT_SOURCES)
    assert source != cached_nets.source_digest(cached_nets.WEIGHT_SOURCES[:-1])
    keys = {cached_nets.digest(args, threads) for args in (TINY, TINY[:-2]) for threads in (1, 2)}
    assert len(keys) == 4


def test_files_only_explaining_reads_are_left_out_of_the_nets_key():
    """Each left-out file exists (a renamed one would be hashed again unnoticed) and leaving it out moves the key."""
    assert all((cached_nets.PACKAGE / name).is_file() for name in cached_nets.EXPLAIN_ONLY)
    assert (cached_nets.source_digest(cached_nets.WEIGHT_SOURCES, cached_nets.EXPLAIN_ONLY)
            != cached_nets.source_digest(cached_nets.WEIGHT_SOURCES))


def test_a_datasets_key_follows_every_module_that_writes_it(tmp_path, monkeypatch):
    """The writer's own imports within data_modules, followed to the end, are all in the key."""
    folder = cached_nets.PACKAGE / "data_modules"
    written, todo = set(), ["synthetic"]
    while todo:
        name = todo.pop()
        if name in written:
            continue
        written.add(name)
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                todo += [node.module] if node.module else [alias.name for alias in node.names]
    assert {f"data_modules/{name}.py" for name in written} <= set(cached_nets.DATASET_SOURCES)
    monkeypatch.setenv(cached_nets.CACHE_VARIABLE, str(tmp_path))
    plain, known = (cached_nets.synthetic_dataset(2, 0, known_cause=k) for k in (False, True))
    assert plain != known and known.name.startswith("synthetic-known-cause-2-0-")


def test_an_unwritable_cache_folder_falls_back_with_one_warning(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(cached_nets.CACHE_VARIABLE, str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="spectral_xai.settings"):
        folder = cached_nets.cache_dir()
    assert folder.is_dir() and not str(folder).startswith(str(blocker))
    assert len(caplog.records) == 1 and "cannot be written" in caplog.text
