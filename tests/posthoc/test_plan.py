"""Which checkpoints are one family: the same settings, different training seeds."""
from dataclasses import dataclass, field
from types import SimpleNamespace

from spectral_xai.posthoc.plan import name_families


@dataclass
class Loaded:
    name: str
    seed: int | None
    spectra: tuple = ("mir",)
    family: str = ""
    module: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(hparams={"num_classes": 2}))

    @property
    def data(self) -> SimpleNamespace:
        return SimpleNamespace(hparams={"spectra": list(self.spectra)})


def families(*loaded: Loaded) -> list[str]:
    for checkpoint in loaded:
        checkpoint.family = checkpoint.name
    name_families(loaded)
    return [checkpoint.family for checkpoint in loaded]


def test_nets_alike_but_for_their_seeds_are_one_family_named_without_the_seed():
    assert families(Loaded("mir-seed0", 0), Loaded("mir-seed1", 1), Loaded("rgb-seed0", 0, ("rgb",))) == ["mir", "mir", "rgb-seed0"]
    assert families(Loaded("run_a", 0), Loaded("run_b", 3)) == ["run_a-seeds", "run_a-seeds"]


def test_nets_of_one_seed_or_of_unknown_seeds_or_other_settings_stay_apart():
    assert families(Loaded("a", 0), Loaded("b", 0)) == ["a", "b"]  # the same seed: not replicates
    assert families(Loaded("a", None), Loaded("b", 1)) == ["a", "b"]  # a net trained before seeds were recorded
    assert families(Loaded("a", 0), Loaded("b", 1, ("rgb",))) == ["a", "b"]
    # a family's name never takes another net's
    assert families(Loaded("mir-seed0", 0), Loaded("mir-seed1", 1), Loaded("mir", 0, ("rgb",))) == [
        "mir-seed0-seeds", "mir-seed0-seeds", "mir"]
