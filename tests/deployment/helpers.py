"""Models for the INT8 tests and benchmarks, made on purpose to be hard to quantize."""

from __future__ import annotations

from pathlib import Path


def wide_range_checkpoint(weights: str, folder: Path, gain: float = 1000.0) -> str:
    """``weights`` with one wide-range activation: channel 0 of layer 0 scaled by ``gain``
    (BatchNorm weight and bias) and the next convolution's weights on it divided by it.

    In float the model barely changes (SiLU(g x) / g is close to ReLU(x)); one int8 scale for
    the whole tensor leaves the other channels almost no levels, so plain INT8 collapses.

    Returns:
        The path of the new checkpoint, ``folder/sensitive.pt``.
    """
    import torch

    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    model = ckpt["model"].float()
    with torch.no_grad():
        bn = model.model[0].bn
        bn.weight[0] *= gain
        bn.bias[0] *= gain
        model.model[1].conv.weight[:, 0] /= gain
    ckpt["model"], ckpt["ema"] = model, None
    path = Path(folder) / "sensitive.pt"
    torch.save(ckpt, path)
    return str(path)
