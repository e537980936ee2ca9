"""to_svg: the pure-Python layered drawing of the recorded graph."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.diagnostics import GraphReleasedError, build_graph, to_dot, to_svg

_NS = "{http://www.w3.org/2000/svg}"


def _mlp_loss():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3, bias=False))
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    return model, nn.functional.cross_entropy(model(x), np.array([0, 1, 2, 0, 1, 2]))


def _groups(root, cls):
    return [g for g in root.iter(f"{_NS}g") if cls in g.get("class", "").split()]


def test_to_svg_is_xml_with_one_node_per_op_and_tensor_and_every_edge(tmp_path):
    model, loss = _mlp_loss()
    text = to_svg(loss, tmp_path / "g.svg", model=model)
    root = ET.fromstring((tmp_path / "g.svg").read_text())
    assert text == (tmp_path / "g.svg").read_text()
    ops = _groups(root, "op")
    assert [g.get("id") for g in ops] == ["f%d" % op.seq for op in build_graph(loss).ops]
    assert [g.find(f"{_NS}title").text.split()[0] for g in ops] == \
        ["Linear", "Tanh", "Linear", "CrossEntropy"]
    # Tensors: x, 0.weight, 0.bias, 2.weight and the four results; one root.
    assert len(_groups(root, "tensor")) == 8 and len(_groups(root, "root")) == 1
    assert len(_groups(root, "leaf")) == 3 and len(_groups(root, "const")) == 1
    edges = root.find(f"{_NS}g[@class='edges']").findall(f"{_NS}path")
    assert len(edges) == (3 + 1) + (1 + 1) + (2 + 1) + (1 + 1)  # inputs + output per op
    assert len(edges) == to_dot(loss).count(" -> ")


def test_to_svg_data_flows_down_and_nodes_do_not_overlap():
    a = mg.Tensor(np.ones(3), requires_grad=True)
    b = mg.Tensor(np.ones(3), requires_grad=True)
    root = ET.fromstring(to_svg(((a * b + a).tanh() * b).sum()))
    boxes = {}
    for g in _groups(root, "node"):
        shape = g.find(f"{_NS}rect")
        if shape is not None:
            x, y = float(shape.get("x")), float(shape.get("y"))
            w, h = float(shape.get("width")), float(shape.get("height"))
        else:
            shape = g.find(f"{_NS}ellipse")
            rx, ry = float(shape.get("rx")), float(shape.get("ry"))
            x, y, w, h = float(shape.get("cx")) - rx, float(shape.get("cy")) - ry, 2 * rx, 2 * ry
        boxes[g.get("id")] = (x, y, w, h)
    ys = [boxes[k][1] for k in sorted((k for k in boxes if k.startswith("f")),
                                      key=lambda k: int(k[1:]))]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)  # each op below the one before
    items = list(boxes.values())
    for i, (x1, y1, w1, h1) in enumerate(items):
        for x2, y2, w2, h2 in items[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


def test_to_svg_of_a_leaf_and_escapes_names_and_prefixes_ids():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    x.name = "<x & y>"
    root = ET.fromstring(to_svg(x, id_prefix="p-"))
    (node,) = _groups(root, "node")
    assert node.get("id") == "p-t0" and "<x & y>" in node.find(f"{_NS}title").text


def test_to_svg_after_backward_says_graph_was_released():
    x = mg.Tensor(np.ones(3), requires_grad=True)
    loss = (x * 2).sum()
    loss.backward()
    with pytest.raises(GraphReleasedError, match="to_svg"):
        to_svg(loss)
