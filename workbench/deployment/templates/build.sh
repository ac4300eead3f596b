#!/usr/bin/env bash
# Build TensorRT engines on the Jetson (JetPack's trtexec). Run from this folder.
#   model.fp16.engine  from the FP32 ONNX, FP16 kernels allowed
#   model.int8.engine  from the INT8 QDQ ONNX (explicit quantization, scales already calibrated)
set -euo pipefail
cd "$(dirname "$0")"
TRTEXEC=${TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}
"$TRTEXEC" --onnx=model.onnx --saveEngine=model.fp16.engine --fp16
"$TRTEXEC" --onnx=model.int8.qdq.onnx --saveEngine=model.int8.engine --int8 --fp16
echo "built model.fp16.engine and model.int8.engine; try: python3 run_trt.py model.int8.engine IMAGE.jpg"
