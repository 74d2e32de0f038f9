"""Build orchestration: stages (plan / run / commit), the local executor, `build()`, `verify()`."""
