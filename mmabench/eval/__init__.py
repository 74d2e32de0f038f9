"""Evaluation of MLLMs on manifest items (adapters, runner, scoring, reports): issue #5."""
