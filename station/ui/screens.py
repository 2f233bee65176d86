"""The touchscreen's screens and the catalogue keys each may speak.

The browser builds each screen's spoken script from these keys (with numbers, prices and dates
filled in); `scripts/make-speech` renders a clip for every key listed here, in every language,
and the tests check that every screen has all its clips. A key a screen speaks must be listed.
"""

from __future__ import annotations

ERROR_CODES = (
    "cancelled",
    "aborted",
    "reversed",
    "released_not_charged",
    "charge_unknown",
    "busy",
    "not_available",
    "unavailable",
    "network",
    "generic",
)

# What each error screen says: a title, what happened to the money, what to do next.
_ERROR_KEYS = (
    *(f"error.{code}.title" for code in ERROR_CODES),
    "error.aborted.next",
    "error.reversed.money",
    "error.reversed.next",
    "error.released_not_charged.money",
    "error.charge_unknown.money",
    "error.busy.next",
    "error.not_available.next",
    "error.network.money",
)

# Screen name -> keys it may speak. Order is only for reading; the screen decides what it says.
SCREENS: dict[str, tuple[str, ...]] = {
    "chrome": ("chrome.simulated", "chrome.offline", "chrome.card_down", "chrome.no_station"),
    "idle": ("idle.title", "idle.touch", "idle.empty", "idle.more"),
    "start": ("start.title", "start.prompt", "start.buy", "start.buy_hint", "start.settings"),
    "buy": (
        "buy.title",
        "buy.hint",
        "buy.compartment",
        "buy.price",
        "buy.min_age",
        "buy.state.sold_out",
        "buy.state.blocked",
        "buy.state.needs_check",
        "buy.state.unavailable",
        "buy.state.reserved",
        "buy.state.occupied",
        "buy.page",
        "buy.empty",
        "buy.by_number",
    ),
    "number": (
        "number.title",
        "number.hint",
        "number.label",
        "number.show",
        "number.unknown",
        "keypad.empty",
        "keypad.digits",
        "keypad.digit_entered",
    ),
    "item": (
        "buy.compartment",
        "item.price",
        "buy.price",
        "item.deposit",
        "item.total",
        "item.contents",
        "item.best_before",
        "item.pay",
        "item.cards",
        "item.age_notice",
        "item.continue",
        "item.not_for_sale",
        "chrome.card_down",
    ),
    "age": ("age.title", "age.how", "age.not_yet", "age.other"),
    "pay": ("pay.title", "pay.amount", "pay.starting", "pay.follow", "pay.cancel", "pay.opening"),
    "door": ("door.open", "door.take", "door.close"),
    "done": ("done.closed", "done.thanks", "done.charged", "done.again", "done.finish"),
    "declined": ("declined.title", "declined.money", "declined.next", "declined.retry", "error.call"),
    "error": (*_ERROR_KEYS, "error.nothing_charged", "error.call", "error.call_none", "chrome.home"),
    "help": ("help.title", "help.call", "help.who", "help.station", "help.money", "help.close"),
    "timeout": ("timeout.title", "timeout.explain", "timeout.more"),
}

# Screens shown in the main area (one at a time); the others are overlays or the frame.
MAIN_SCREENS = ("idle", "start", "buy", "number", "item", "age", "pay", "door", "done", "declined", "error")
OVERLAYS = ("help", "timeout")

# Screens that also speak what the card terminal says (the `terminal` catalogue).
SPEAKS_TERMINAL = ("pay",)


def spoken_keys() -> list[str]:
    """Every catalogue key any screen speaks, once."""
    return list(dict.fromkeys(key for keys in SCREENS.values() for key in keys))
