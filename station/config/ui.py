"""Configuration of the touchscreen: the panel's physical size, time-outs, whom to call.

Sizes on the screen are given in millimetres (touch targets >= 16 mm, kiosk-ui.md); the panel's
size and resolution turn them into CSS pixels. Not wired into `Config` yet: `station.ui` uses
`UiConfig()` (a 21.5" full-HD panel) until the `[ui]` table is added there.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from .base import Section

MIN_TARGET_MM = 16.0  # older users make far fewer errors from 16 mm up (kiosk-ui.md)
MIN_WARNING_S = 20  # WCAG 2.2.1: at least 20 s to ask for more time


class UiConfig(Section):
    """`[ui]`: the kiosk screen. Sizes are those of the panel in its native (landscape) orientation."""

    panel_width_mm: float = Field(default=476.6, gt=50, le=3000, description="visible width of the panel")
    panel_height_mm: float = Field(default=268.1, gt=50, le=3000, description="visible height of the panel")
    resolution_width_px: int = Field(default=1920, ge=320, le=7680)
    resolution_height_px: int = Field(default=1080, ge=320, le=7680)
    target_mm: float = Field(default=18.0, ge=MIN_TARGET_MM, le=60, description="size of the smallest touch target")
    idle_timeout_s: int = Field(default=90, ge=30, le=3600, description="no touch for this long: warn, then reset")
    idle_warning_s: int = Field(
        default=30, ge=MIN_WARNING_S, le=600, description="how long the 'Mehr Zeit' warning stays before the reset"
    )
    shop_window_s: int = Field(
        default=60, ge=10, le=3600, description="no touch on the start screen for this long: show the shop window"
    )
    help_phone: str | None = Field(
        default=None, max_length=40, description="phone number under 'Hilfe'; none: the station's hotline"
    )
    help_who: str | None = Field(
        default=None, max_length=120, description="who answers that number, e.g. 'Ehrenamtliche aus dem Dorf'"
    )
    speech_dir: Path | None = Field(
        default=None, description="speech clips made by scripts/make-speech; none: station/ui/speech"
    )

    @model_validator(mode="after")
    def _square_pixels(self) -> UiConfig:
        """Millimetres per pixel must agree across and down the panel, or the sizes would be wrong."""
        across = self.panel_width_mm / self.resolution_width_px
        down = self.panel_height_mm / self.resolution_height_px
        if abs(across - down) / across > 0.05:
            raise ValueError(
                f"panel {self.panel_width_mm}x{self.panel_height_mm} mm does not fit "
                f"{self.resolution_width_px}x{self.resolution_height_px} px (non-square pixels)"
            )
        return self

    @property
    def px_per_mm(self) -> float:
        """CSS pixels per millimetre on this panel (the kiosk runs at a device scale of 1)."""
        return self.resolution_width_px / self.panel_width_mm
