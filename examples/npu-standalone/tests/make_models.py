"""Write the tiny models test_basic runs: an IR model (.xml + .bin) and an ONNX model.

    python make_models.py OUT_DIR          # IR only
    python make_models.py OUT_DIR --onnx   # and the ONNX model (needs the onnx package)

add_mul.xml/.bin (IR, static shapes):
    inputs  x, y: f32 [2,3]
    outputs sum = x + y, prod = Relu(x) * W, with W = [0.5, 1, 1.5, 2, 2.5, 3] from add_mul.bin
matmul.onnx (ONNX, dynamic batch):
    input   x: f32 [N,3]
    output  y = x @ [[1,2],[3,4],[5,6]] + [0.5, -0.5]: f32 [N,2]

test_basic.c holds the expected values for exactly these models.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

WEIGHTS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
MATMUL_W = ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0))
MATMUL_B = (0.5, -0.5)


def _port(pid: int, names: str | None = None) -> str:
    named = f' names="{names}"' if names else ""
    return f'<port id="{pid}" precision="FP32"{named}><dim>2</dim><dim>3</dim></port>'


def ir_xml() -> str:
    layers = [
        ('0', 'x', 'Parameter', '<data shape="2,3" element_type="f32"/>', "", _port(0, "x")),
        ('1', 'y', 'Parameter', '<data shape="2,3" element_type="f32"/>', "", _port(0, "y")),
        ('2', 'W', 'Const', '<data element_type="f32" shape="2,3" offset="0" size="24"/>', "", _port(0)),
        ('3', 'add', 'Add', '<data auto_broadcast="numpy"/>', _port(0) + _port(1), _port(2, "sum")),
        ('4', 'relu', 'Relu', "", _port(0), _port(1)),
        ('5', 'mul', 'Multiply', '<data auto_broadcast="numpy"/>', _port(0) + _port(1), _port(2, "prod")),
        ('6', 'sum_result', 'Result', "", _port(0), ""),
        ('7', 'prod_result', 'Result', "", _port(0), ""),
    ]
    edges = [(0, 0, 3, 0), (1, 0, 3, 1), (0, 0, 4, 0), (4, 1, 5, 0), (2, 0, 5, 1), (3, 2, 6, 0), (5, 2, 7, 0)]
    out = ['<?xml version="1.0"?>', '<net name="add_mul" version="11">', "<layers>"]
    for lid, name, kind, data, inputs, outputs in layers:
        out.append(f'<layer id="{lid}" name="{name}" type="{kind}" version="opset1">{data}'
                   + (f"<input>{inputs}</input>" if inputs else "")
                   + (f"<output>{outputs}</output>" if outputs else "") + "</layer>")
    out.append("</layers><edges>")
    out += [f'<edge from-layer="{a}" from-port="{b}" to-layer="{c}" to-port="{d}"/>' for a, b, c, d in edges]
    out.append("</edges></net>")
    return "\n".join(out) + "\n"


def write_ir(folder: Path) -> Path:
    """add_mul.xml and add_mul.bin in folder; returns the .xml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "add_mul.bin").write_bytes(struct.pack("<6f", *WEIGHTS))
    xml = folder / "add_mul.xml"
    xml.write_text(ir_xml())
    return xml


def write_onnx(folder: Path) -> Path:
    """matmul.onnx in folder, built with the onnx package; returns its path."""
    import onnx
    from onnx import TensorProto, helper

    w = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [v for row in MATMUL_W for v in row])
    b = helper.make_tensor("B", TensorProto.FLOAT, [2], list(MATMUL_B))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="npu-standalone")
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "matmul.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    print(write_ir(folder))
    if "--onnx" in argv[1:]:
        print(write_onnx(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
