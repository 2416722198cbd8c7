"""Our detector as the implementations nobody here wrote expect it (pytorch-grad-cam's models and
targets, xaitk-saliency's detection format): shared by benchmarks/peers.py and the cross-check
tests, kept out of the package because those libraries are only development dependencies."""
