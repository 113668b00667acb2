"""Watching a model in use: the prediction log (`log`), drift of a window of texts against
the version's reference (`drift`), and the log over time (`timeline`, the Monitor tab)."""
