"""The touchscreen: the kiosk page served by the daemon (see README.md beside this file)."""
