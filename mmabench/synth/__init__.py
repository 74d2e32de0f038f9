"""Stage `synthesize` + `itemize`: conflict operations (verbs: Clip records in, Variant recipes out) and the
two questions per variant with their ground truth."""
