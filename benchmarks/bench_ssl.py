"""Self-supervised pretraining throughput per method, against a plain torch loop.

In one run, on this machine, for each method of :data:`workbench.ssl.methods.METHODS`:

* ``workbench ssl pretrain`` (the view's images read from the store, the method's lightly
  transform, the run recorded, the detector checkpoint written) for ``--epochs`` over
  ``--images`` demo pool images at ``--imgsz`` px;
* the baseline: a plain torch loop over the same images, the same backbone (the detector's own
  layers up to SPPF), the same method module and transform, the same batch size and optimizer,
  with nothing else (no store, no checkpoint, no progress).

Prints images/s for both and their ratio (the wrapper's overhead inside the training loop: the
run's ``images_per_s`` leaves out its per-epoch BatchNorm re-estimation and checkpoint);
``--json`` prints the rows.

    .venv/bin/python benchmarks/bench_ssl.py [--methods simclr,byol,dino,moco] [--imgsz 160]
        [--images 64] [--epochs 2] [--batch 16] [--model yolov8n.yaml] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "datasets" / "aquarium-mini"


def plain_loop(paths: list[str], method: str, model: str, imgsz: int, epochs: int,
               batch: int, lr: float, seed: int) -> float:
    """Images/s of a bare loop: decode, the method's transform, loss, backward, AdamW step."""
    import torch
    from PIL import Image

    from workbench.ssl.backbone import backbone_of, build_detector, feature_dim
    from workbench.ssl.methods import METHODS

    torch.manual_seed(seed)
    rng = random.Random(seed)
    spec = METHODS.get(method)
    backbone = backbone_of(build_detector(model))
    module = spec.build(backbone, feature_dim(backbone))
    transform = spec.transform(imgsz)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    module.train()
    seen = 0
    started = time.perf_counter()
    for epoch in range(epochs):
        order = list(paths)
        rng.shuffle(order)
        for start in range(0, len(order) - batch + 1, batch):
            views_per_image = [transform(Image.open(p).convert("RGB"))
                               for p in order[start:start + batch]]
            views = [torch.stack([v[k] for v in views_per_image])
                     for k in range(len(views_per_image[0]))]
            progress = (epoch + start / len(order)) / epochs
            loss = module.loss(views, progress, epoch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += batch
    return seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="")
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", default="yolov8n.yaml")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import workbench as wb
    from workbench.ssl.api import METHODS, PretrainConfig, pretrain
    from workbench.store import mongod

    methods = [m for m in args.methods.split(",") if m] or METHODS.names()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssl-"))
    rows: list[dict[str, Any]] = []
    try:
        ws = wb.init_workspace(tmp / "ws", name=f"bench-{uuid.uuid4().hex[:8]}")
        wb.ingest(ws, DEMO / "demo" / "pool.yaml", "yolo", unlabeled=True)
        paths = sorted(ws.dataset.values("filepath"))[:args.images]
        view = "pool"
        for method in methods:
            cfg = PretrainConfig(view=view, method=method, model=args.model, imgsz=args.imgsz,
                                 epochs=args.epochs, batch=args.batch, run=f"bench-{method}",
                                 max_images=args.images)
            ours = pretrain(ws, cfg)
            base = plain_loop(paths, method, args.model, args.imgsz, args.epochs, args.batch,
                              cfg.lr, cfg.seed)
            rows.append({"method": method, "images": ours.images,
                         "workbench_images_per_s": round(ours.images_per_s, 2),
                         "plain_images_per_s": round(base, 2),
                         "ratio": round(ours.images_per_s / base, 3),
                         "final_loss": ours.final_loss})
            if not args.json:
                r = rows[-1]
                print(f"{method:7s} workbench {r['workbench_images_per_s']:6.2f} img/s  plain "
                      f"{r['plain_images_per_s']:6.2f} img/s  ratio {r['ratio']:.2f}  "
                      f"loss {r['final_loss']:.3f}", flush=True)
    finally:
        for state in tmp.rglob(mongod.STATE_FILE):
            mongod.stop(state.parent)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        json.dump({"imgsz": args.imgsz, "batch": args.batch, "epochs": args.epochs,
                   "model": args.model, "rows": rows}, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
