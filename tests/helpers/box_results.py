"""Explanation results made by hand, for the statistics that read them."""
import torch

from spectral_xai.detection import Target
from spectral_xai.results import BoxResult
from spectral_xai.metrics import CurveResult, Localisation


def scored(insertion: CurveResult, deletion: CurveResult, localisation: Localisation | None = None) -> dict:
    """A map's scores as BoxResult holds them: the two AUCs with their curves, and the localisation."""
    scores = {"deletion_auc": deletion.auc, "insertion_auc": insertion.auc}
    if localisation is not None:
        scores.update(pointing_game=localisation.pointing_game, energy_pointing_game=localisation.energy_pointing_game,
                      odi=localisation.odi)
    return {"scores": scores, "curves": {"deletion_auc": deletion, "insertion_auc": insertion},
            "judged_against": localisation.against if localisation is not None else None}


def result(sample_id: str, method: str, deletion: float, insertion: float = 0.5, box=(0.0, 0.0, 10.0, 10.0),
           spectrum: str = "mir", rank: int = 0, blank: bool = False, full: float = 0.9, object: int | None = None
           ) -> BoxResult:
    def curve(auc):  # ``full``: the box's score on the unperturbed image, where deletion starts
        return CurveResult(torch.zeros(2), torch.tensor([full, 0.0]), auc, 0.5)

    target = Target(torch.tensor(box), 0, 0.9, torch.tensor([0.9, 0.1]), 0)
    saliency = torch.zeros(8, 8) if blank else torch.rand(8, 8) + 0.1
    return BoxResult(sample_id, spectrum, target, rank, method, saliency, 0.1, 0.5, object=object,
                     **scored(curve(insertion), curve(deletion)))
