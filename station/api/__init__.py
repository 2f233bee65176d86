"""The local HTTP API (FastAPI) for the touchscreen UI and local tools."""
