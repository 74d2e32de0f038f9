"""Stage `train`: modality-alignment LoRA from the manifest's items (benchmark.md §7).

`data` picks the SFT examples and targets, `lora` trains a PEFT LoRA on a local Qwen2.5-Omni thinker with
the inputs the `hf` eval adapter sends, `run` records every training run in the manifest (`train_runs`).
"""
