# MaixPy (K210) example for a workbench kmodel: camera -> letterbox -> KPU -> decode -> boxes.
# Copy model.kmodel and this file to the SD card's root and run it from MaixPy IDE (firmware
# with kmodel v5 support: MaixPy v0.6.2 or newer). The decode is the one workbench uses on the
# host (see deploy.yaml): per level and cell, 4 x REG_MAX box logits then one logit per class.
import gc
import math

import image
import lcd
import sensor
from maix import KPU

CONFIG = {}  # written by `workbench export --target k210`

NAMES = CONFIG["names"]
SIZE = CONFIG["imgsz"]
STRIDES = CONFIG["strides"]
SHAPES = CONFIG["shapes"]  # (channels, height, width) per level
REG_MAX = CONFIG["reg_max"]
CONF = CONFIG["score_threshold"]  # the global threshold
# one operating threshold per class (NAMES order; deploy.yaml `thresholds`), applied to the
# decoded boxes by keep()
THRESHOLDS = CONFIG.get("thresholds") or [CONF] * len(NAMES)
IOU = CONFIG["nms_iou"]


def logit(p):
    """The logit of a probability (+-1e30 at 1 and 0: nothing / everything passes)."""
    if p <= 0.0:
        return -1e30
    if p >= 1.0:
        return 1e30
    return math.log(p / (1.0 - p))


# decode() keeps cells above the lowest class threshold; compare logits: no sigmoid below it
LOGIT = logit(min(THRESHOLDS))


def side(values, base, plane, reg_max):
    """Expected distance of one box side: softmax over its REG_MAX bins."""
    if reg_max == 1:
        return values[base]
    bins = [values[base + b * plane] for b in range(reg_max)]
    top = max(bins)
    weights = [math.exp(v - top) for v in bins]
    return sum(b * w for b, w in enumerate(weights)) / sum(weights)


def decode(outputs):
    """Boxes ``(x1, y1, x2, y2, score, class)`` in letterboxed input pixels."""
    found = []
    n_classes = len(NAMES)
    for level, values in enumerate(outputs):
        _, h, w = SHAPES[level]
        plane = h * w
        stride = STRIDES[level]
        first_cls = 4 * REG_MAX * plane
        for cell in range(plane):
            best, best_c = LOGIT, -1
            for c in range(n_classes):
                v = values[first_cls + c * plane + cell]
                if v > best:
                    best, best_c = v, c
            if best_c < 0:
                continue
            cx, cy = cell % w + 0.5, cell // w + 0.5
            d = [side(values, (k * REG_MAX) * plane + cell, plane, REG_MAX) for k in range(4)]
            found.append(((cx - d[0]) * stride, (cy - d[1]) * stride, (cx + d[2]) * stride,
                          (cy + d[3]) * stride, 1.0 / (1.0 + math.exp(-best)), best_c))
    return nms(found)


def keep(boxes):
    """The decoded boxes at or above their class's operating threshold."""
    return [b for b in boxes if b[4] >= THRESHOLDS[b[5]]]


def nms(boxes):
    """Greedy per-class non-maximum suppression."""
    boxes.sort(key=lambda b: -b[4])
    kept = []
    for b in boxes:
        ok = True
        for k in kept:
            if k[5] != b[5]:
                continue
            iw = min(b[2], k[2]) - max(b[0], k[0])
            ih = min(b[3], k[3]) - max(b[1], k[1])
            if iw > 0 and ih > 0:
                inter = iw * ih
                union = (b[2] - b[0]) * (b[3] - b[1]) + (k[2] - k[0]) * (k[3] - k[1]) - inter
                if inter > IOU * union:
                    ok = False
                    break
        if ok:
            kept.append(b)
    return kept


def main():
    lcd.init()
    sensor.reset()
    sensor.set_pixformat(sensor.RGB565)
    sensor.set_framesize(sensor.QVGA)  # 320 x 240
    sensor.skip_frames(time=1000)
    kpu = KPU()
    kpu.load_kmodel("/sd/model.kmodel")
    scale = SIZE / 320.0
    new_h = int(240 * scale)
    top = (SIZE - new_h) // 2
    canvas = image.Image(size=(SIZE, SIZE))
    while True:
        frame = sensor.snapshot()
        canvas.draw_rectangle(0, 0, SIZE, SIZE, color=(114, 114, 114), fill=True)
        canvas.draw_image(frame.resize(SIZE, new_h), 0, top)  # letterbox as in training
        canvas.pix_to_ai()
        kpu.run_with_output(canvas)
        outputs = kpu.get_outputs()
        for x1, y1, x2, y2, score, c in keep(decode(outputs)):
            rect = (int(x1 / scale), int((y1 - top) / scale), int((x2 - x1) / scale),
                    int((y2 - y1) / scale))
            frame.draw_rectangle(rect, color=(255, 0, 0))
            frame.draw_string(rect[0], rect[1], "%s %.2f" % (NAMES[c], score),  # noqa: UP031
                              color=(255, 0, 0))  # MicroPython: no f-strings
        lcd.display(frame)
        gc.collect()


main()
