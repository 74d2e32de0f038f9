"""The `datasets` features of an item row: one definition for the Parquet writer and the card."""

from __future__ import annotations


def features():
    from datasets import Features, List, Value, Video

    s = Value("string")
    return Features(
        {
            "item_id": s,
            "build": s,
            "split": s,
            "condition": s,
            "prompt_modality": s,
            "prompt": s,
            "options": List(s),
            "answer": s,
            "abstain_expected": Value("bool"),
            "template_version": Value("int32"),
            "visual_class": s,
            "audio_class": s,
            "visual_mid": s,
            "audio_mid": s,
            "variant_id": s,
            "video_clip_id": s,
            "audio_clip_id": s,
            "source": s,
            "video_source_ref": s,
            "audio_source_ref": s,
            "recipe": s,
            "media_sha256": s,
            "video": Video(decode=False),
        }
    )


def metadata_features():
    """The videofolder metadata file's columns: the item fields, `file_name` instead of `video`."""
    from datasets import Value

    feats = features()
    del feats["video"]
    feats["file_name"] = Value("string")
    return feats
