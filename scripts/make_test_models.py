"""Builds the tiny ONNX models the RiverInference tests run through ONNX Runtime.

Each model takes a [1,3,64,64] float image and returns a known constant tensor (the input is
reduced to a scalar and multiplied by zero, so the graph really consumes it). The tests then check
the Swift decoders against hand-computed expectations: layout detection, thresholds, class mapping,
NMS, letterbox mapping.

Usage: make_test_models.py OUT_DIR   (idempotent; writes atomically)
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NAMES = "{0: 'person', 1: 'car', 2: 'dog'}"

# YOLO candidates in model input pixels: cx, cy, w, h, objectness, scores for classes 0..2.
# With a 128x64 frame the letterbox scale is 0.5 and content rows are 16..48 of the input.
CANDIDATES = np.array(
    [
        [20, 28, 16, 16, 0.9, 0.9, 0.05, 0.05],  # A: person 0.81
        [21, 29, 16, 16, 0.8, 0.9, 0.1, 0.0],  # A2: person 0.72, IoU 0.78 with A -> suppressed
        [20, 30, 16, 16, 0.9, 0.1, 0.8, 0.1],  # A3: car 0.72, overlaps A but other class -> kept
        [48, 32, 8, 12, 0.5, 0.1, 0.1, 0.4],  # B: dog 0.2 -> under threshold
        [48, 36, 10, 10, 0.95, 0.0, 0.0, 1.0],  # C: dog 0.95
        [10, 30, 4, 4, 0.2, 1.0, 0.0, 0.0],  # D: person 0.2 -> under threshold
        [60, 40, 12, 8, 0.9, 0.0, 1.0, 0.0],  # E: car 0.9, crosses the right edge -> clipped
        [0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0],
        [0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0],
        [0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0],
    ],
    dtype=np.float32,
)

LOGITS = np.array([[1.0, 3.0, 0.5, 2.0]], dtype=np.float32)


def constant_model(value: np.ndarray, metadata: dict | None = None) -> onnx.ModelProto:
    """A graph `output = value + 0 * mean(images)`."""
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(value.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["value", "nothing"], ["output0"]),
    ]
    initializers = [
        numpy_helper.from_array(value, "value"),
        numpy_helper.from_array(np.array(0, dtype=np.float32), "zero"),
    ]
    graph = helper.make_graph(nodes, "tiny", [image], [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="river-tests")
    model.ir_version = 8
    for key, text in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = text
    onnx.checker.check_model(model)
    return model


def v8_candidates() -> np.ndarray:
    """The same candidates in v8 layout: no objectness, class scores already multiplied by it."""
    boxes = CANDIDATES[:, :4]
    scores = CANDIDATES[:, 5:] * CANDIDATES[:, 4:5]
    return np.concatenate([boxes, scores], axis=1).T[None].astype(np.float32)  # [1, 4+C, N]


def save(model: onnx.ModelProto, path: str) -> None:
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    models = {
        "yolov5_tiny.onnx": constant_model(CANDIDATES[None], {"names": NAMES}),
        "yolov5_nolabels.onnx": constant_model(CANDIDATES[None]),
        "yolov8_tiny.onnx": constant_model(v8_candidates(), {"names": NAMES}),
        "classifier_tiny.onnx": constant_model(LOGITS, {"names": '["cat", "dog", "fish", "bird"]'}),
        "unsupported_output.onnx": constant_model(np.zeros([1, 2, 1, 1, 1], dtype=np.float32)),
    }
    for name, model in models.items():
        save(model, os.path.join(out_dir, name))
    print(f"wrote {len(models)} models to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1])
