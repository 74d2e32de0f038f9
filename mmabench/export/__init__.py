"""Releases: Hugging Face `datasets` folders (and the Hub), LLaMA-Factory tuning files, WebDataset shards."""
