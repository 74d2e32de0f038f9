"""Modality-alignment tuning data and LoRA training loop: see the training issue."""
