"""The dashboard's pieces: one module per tab, plus shared charts and cached loaders."""
