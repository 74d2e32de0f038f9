"""Shared by the tagger tests: a tiny randomly initialised AST written at test time (scores are noise)."""

import pytest

LABELS = ["Speech", "Dog", "Bark", "Cat", "Meow", "Music", "Horse", "Explosion", "Camera", "not-an-audioset-class"]


@pytest.fixture(scope="session")
def tiny_ast(tmp_path_factory):
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    d = tmp_path_factory.mktemp("tiny_ast")
    cfg = ASTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_length=256,
        num_mel_bins=128,
        id2label=dict(enumerate(LABELS)),
        label2id={x: i for i, x in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    ASTForAudioClassification(cfg).save_pretrained(d)
    ASTFeatureExtractor(max_length=256).save_pretrained(d)
    return str(d)
