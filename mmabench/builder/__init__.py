"""Build pipeline: sources -> ingest -> synthesize -> itemize, meeting only in the manifest."""
