"""Write randomly initialised, full-size checkpoints for throughput benchmarks on machines without the real
weights (e.g. a GPU box with no network): EfficientNet-Lite0 (imagenet tagger) and AST-base (hf-audio).
Their scores are noise — use them to time the pipeline, never to report results.

    python scripts/random_checkpoints.py OUT_DIR    # -> OUT_DIR/efficientnet-lite0-random.pth, OUT_DIR/ast-random/
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(out: Path) -> None:
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(EfficientNet.from_name("efficientnet-lite0").state_dict(), out / "efficientnet-lite0-random.pth")
    from mmabench.taxonomy.ontology import default_ontology

    names = sorted(n["name"] for n in default_ontology().nodes.values())[:527]  # AudioSet-sized head
    cfg = ASTConfig(id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})  # AST-base
    ASTForAudioClassification(cfg).save_pretrained(out / "ast-random")
    ASTFeatureExtractor().save_pretrained(out / "ast-random")
    print(f"wrote random-init checkpoints to {out} (for timing only)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
