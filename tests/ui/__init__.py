"""Browser tests of the touchscreen against a demo station (Playwright, Debian Chromium, axe-core)."""
