"""Watching a model in use: drift of a window of texts against the version's reference
(pipeline.monitor.drift)."""
