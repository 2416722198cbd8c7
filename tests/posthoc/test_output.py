"""The output folder: a later run replaces exactly an earlier run's files, refuses a folder holding
anything else, publishes by one rename under a lock, and recovers from a run killed at any point."""
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from spectral_xai.posthoc.output import MANIFEST, OutputError, claim, foreign_files, publish


def _run(output: Path, files: dict[str, str], overwrite: bool = False) -> Path:
    """One run writing ``files`` (relative path -> text) through claim and publish."""
    def write(folder: Path) -> None:
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    return publish(claim(output, overwrite), write)


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_later_run_replaces_exactly_the_earlier_runs_files_and_drops_what_it_no_longer_writes(tmp_path):
    out = tmp_path / "out"
    _run(out, {"boxes.csv": "first", "sanity.csv": "first", "sanity/a.png": "first"})
    listed = json.loads((out / MANIFEST).read_text())["files"]
    assert sorted(listed) == ["boxes.csv", "sanity.csv", "sanity/a.png"]
    _run(out, {"boxes.csv": "second", "plots/p.png": "second"})
    tree = _tree(out)
    assert {k: v for k, v in tree.items() if k != MANIFEST} == {"boxes.csv": "second", "plots/p.png": "second"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no scratch, aside or lock left


@pytest.mark.parametrize("mine", ["plots/notes.txt", "scenes/mine.png", "notes.txt", MANIFEST])
def test_a_folder_holding_a_users_file_is_refused_naming_it_and_kept_whole(tmp_path, mine):
    out = tmp_path / "out"
    _run(out, {"boxes.csv": "ours", "plots/p.png": "ours", "scenes/s.png": "ours"})
    (out / mine).parent.mkdir(parents=True, exist_ok=True)
    (out / mine).write_text("the user's")
    before = _tree(out)
    named = mine if mine != MANIFEST else "boxes.csv"  # a manifest not ours lists nothing: every file is foreign
    with pytest.raises(OutputError, match=f"holds '{named}'.*--overwrite"):
        _run(out, {"boxes.csv": "new"})
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_of_ours_changed_since_is_the_users_and_overwrite_replaces_it(tmp_path):
    out = tmp_path / "out"
    _run(out, {"report.html": "ours"})
    (out / "report.html").write_text("edited by the user")
    assert foreign_files(out) == ["report.html"]
    with pytest.raises(OutputError, match="holds 'report.html'"):
        _run(out, {"report.html": "new"})
    _run(out, {"report.html": "new"}, overwrite=True)
    assert _tree(out)["report.html"] == "new" and foreign_files(out) == []


def test_an_empty_folder_and_a_missing_one_are_fine_and_a_file_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    assert _tree(_run(tmp_path / "empty", {"a": "1"}))["a"] == "1"
    assert _tree(_run(tmp_path / "deep" / "new", {"a": "1"}))["a"] == "1"
    (tmp_path / "a_file").write_text("")
    with pytest.raises(OutputError, match="not a folder"):
        claim(tmp_path / "a_file")


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(tmp_path):
    out = tmp_path / "out"
    first = claim(out)
    with pytest.raises(OutputError, match="another run is writing this output now"):
        claim(out)
    publish(first, lambda folder: (folder / "a").write_text("first"))
    assert _tree(_run(out, {"a": "second"}))["a"] == "second"  # released: the next run may go


def _hold_then_die(output: str, ready) -> None:
    claimed = claim(output)
    scratch = Path(output).parent / f".{Path(output).name}.partial-dead0001"
    scratch.mkdir()
    (scratch / "half.png").write_text("half")
    ready.set()
    time.sleep(60)
    claimed.release()


def test_a_killed_runs_lock_and_scratch_folder_do_not_block_or_mix_into_the_next_run(tmp_path, caplog):
    """A real process holds the lock and a half-written scratch folder, and is killed: the lock
    goes with it, and the next run removes the scratch folder and says so."""
    out = tmp_path / "out"
    _run(out, {"boxes.csv": "earlier"})
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_then_die, args=(str(out), ready))
    holder.start()
    assert ready.wait(60)
    with pytest.raises(OutputError, match="another run is writing"):
        claim(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    _run(out, {"boxes.csv": "next"})
    assert _tree(out)["boxes.csv"] == "next" and "half.png" not in _tree(out)
    assert "removed .out.partial-dead0001, left by a run that did not finish" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_run_killed_between_its_two_renames_is_restored_whole(tmp_path, monkeypatch):
    """The earlier output renamed aside, the new one (complete, its manifest written) not yet in
    place: the next run puts the newer complete folder in place before it starts, never a mix."""
    out = tmp_path / "out"
    _run(out, {"boxes.csv": "earlier"})
    real_rename = Path.rename

    def killed_after_the_first_rename(self, target):
        if ".partial-" in self.name:
            raise KeyboardInterrupt  # the kill, right after the output was moved aside
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", killed_after_the_first_rename)  # fault injection at the one instant that matters
    with pytest.raises(KeyboardInterrupt):
        _run(out, {"boxes.csv": "newer"})
    monkeypatch.undo()
    assert not out.exists() and list(tmp_path.glob(".out.replaced-*"))
    claim(out).release()
    assert _tree(out)["boxes.csv"] == "newer" and foreign_files(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_files_that_appear_during_a_run_keep_both_the_users_and_the_finished_run(tmp_path):
    out = tmp_path / "out"
    _run(out, {"boxes.csv": "earlier"})

    def write(folder: Path) -> None:
        (folder / "boxes.csv").write_text("finished")
        (out / "dropped_in.txt").write_text("the user's, while the run went on")

    with pytest.raises(OutputError, match=r"holds 'dropped_in.txt'.*finished output is kept in (\S+)") as raised:
        publish(claim(out), write)
    kept = Path(str(raised.value).rsplit("kept in ", 1)[1])
    assert _tree(kept)["boxes.csv"] == "finished" and (out / "dropped_in.txt").exists()
    assert _tree(out)["boxes.csv"] == "earlier"


def test_an_unwritable_parent_is_one_error_before_any_work(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes any folder; tests/test_user_mistakes.py runs this case as an unprivileged user")
    parent = tmp_path / "read_only"
    parent.mkdir()
    parent.chmod(0o555)
    with pytest.raises(OutputError, match="cannot be written"):
        claim(parent / "out")
