"""Neutral helpers every layer may use: backoff, availability."""
