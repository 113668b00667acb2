"""Monitoring a model in use: the prediction log (`log`) and drift against a reference."""
