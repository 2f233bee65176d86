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

_RETURN_ERRORS = ("full", "fault", "busy", "silent", "stuck")
_PROBLEM_KEYS = (
    *(f"return.error.{name}.{part}" for name in _RETURN_ERRORS for part in ("title", "next")),
    *("return.error.nothing_taken", "return.error.kept", "return.error.retry", "return.error.cancelled"),
    "return.error.again",
    *(f"staff.error.{name}" for name in ("expired.title", "expired.next", "station.title", "station.next", "retry")),
    *(f"staff.error.{name}" for name in ("report.title", "door.title", "door.goods", "door.next")),
    *("staff.error.close.title", "staff.error.close.next", "staff.login.again"),
)
_VOUCHER_ERRORS = tuple(
    f"voucher.error.{name}" for name in ("unknown", "redeemed", "void", "held", "throttled", "length", "station")
)
TASK_CODES = (
    *("goods.use_by_reached", "goods.best_before_passed", "goods.marked_down", "goods.use_by_soon"),
    *("goods.best_before_soon", "compartment.needs_check", "coldchain.corrective_action", "device.down"),
)
_LOGIN_MESSAGES = tuple(
    f"staff.login.{name}"
    for name in (
        "wrong",
        "throttled",
        "locked",
        "unknown_badge",
        "badge_required",
        "disabled",
        "pin_required",
        "station",
    )
)

RETURN_SCREENS: dict[str, tuple[str, ...]] = {
    "return": (
        *("return.title", "return.starting", "return.insert", "return.count", "return.items", "return.total"),
        *("buy.price", "return.finish"),
    ),
    "return-choice": (
        *("return.you_get", "return.choose", "return.voucher", "return.voucher_hint", "return.credit"),
        *("return.credit_hint", "return.donate"),
    ),
    "return-voucher": (
        *("return.voucher_title", "return.print.none", "return.print.running", "return.print.done"),
        *("return.print.failed", "return.qr", "return.code", "return.spend_now", "done.finish"),
    ),
    "return-thanks": ("return.thanks", "return.donated", "done.finish"),
    "voucher": (
        *("voucher.title", "voucher.hint", "voucher.label", "voucher.check", "keypad.empty", "keypad.digits"),
        *("keypad.digit_entered", *_VOUCHER_ERRORS),
    ),
    "voucher-ok": ("voucher.ok", "voucher.how", "voucher.shop"),
}

STAFF_SCREENS: dict[str, tuple[str, ...]] = {
    "staff-login": (
        *("staff.login.title", "staff.login.badge", "staff.login.number", "staff.login.pin", "keypad.empty"),
        *("keypad.digits", "keypad.digit_entered", *_LOGIN_MESSAGES),
    ),
    "staff-home": (
        *("staff.tasks.title", "staff.tasks.none", *(f"task.{code}" for code in TASK_CODES), "task.other"),
        *("staff.restock.closed", "staff.cold.done_kept", "staff.cold.done_discarded", "staff.resume.title"),
        *("staff.restock.open", "staff.report.open", "staff.logout"),
    ),
    "staff-open": (
        "staff.open.title",
        "number.hint",
        "keypad.empty",
        "keypad.digits",
        "keypad.digit_entered",
        "staff.open.ok",
    ),
    "staff-restock": (
        "door.open",
        "staff.restock.hint",
        "staff.restock.empty",
        "staff.restock.add",
        "staff.restock.close",
    ),
    "staff-remove": (
        *("staff.remove.title", "staff.remove.hint", "staff.remove.expired", "staff.remove.damaged"),
        *("staff.remove.recalled", "staff.remove.other"),
    ),
    "staff-load": ("staff.load.title",),
    "staff-amount": (
        *("staff.amount.count", "staff.amount.count_value", "staff.amount.use_by", "staff.amount.best_before"),
        *("staff.amount.date_value", "staff.amount.save"),
    ),
    "staff-cold": (
        "staff.cold.title",
        "staff.cold.explain",
        "staff.cold.measured",
        "staff.cold.discard",
        "staff.cold.keep",
    ),
    "staff-report": (
        *("staff.report.title", "staff.report.sales", "staff.report.sales_value", "staff.report.send"),
        "staff.report.sent",
    ),
}

# Screen name -> keys it may speak. Order is only for reading; the screen decides what it says.
SCREENS: dict[str, tuple[str, ...]] = {
    "chrome": ("chrome.simulated", "chrome.offline", "chrome.card_down", "chrome.no_station"),
    "idle": ("idle.title", "idle.touch", "idle.empty", "idle.more"),
    "start": (
        *("start.title", "start.prompt", "start.buy", "start.buy_hint", "start.return", "start.voucher"),
        *("start.staff", "start.settings"),
    ),
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
        "item.credit",
        "chrome.card_down",
    ),
    "age": ("age.title", "age.how", "age.not_yet", "age.other"),
    "pay": ("pay.title", "pay.amount", "pay.starting", "pay.follow", "pay.cancel", "pay.opening"),
    "door": ("door.open", "door.take", "door.close"),
    "done": (
        *("done.closed", "done.thanks", "done.charged", "done.receipt", "done.print", "done.again", "done.finish"),
        *("error.released_not_charged.money", "error.charge_unknown.money"),
    ),
    "declined": ("declined.title", "declined.money", "declined.next", "declined.retry", "error.call"),
    "error": (*_ERROR_KEYS, "error.nothing_charged", "error.call", "error.call_none", "chrome.home"),
    **RETURN_SCREENS,
    **STAFF_SCREENS,
    "problem": (*_PROBLEM_KEYS, "error.generic.title", "error.call", "error.call_none", "chrome.home"),
    "help": ("help.title", "help.call", "help.who", "help.station", "help.money", "help.close"),
    "timeout": ("timeout.title", "timeout.explain", "timeout.more"),
}

# Screens shown in the main area (one at a time); the others are overlays or the frame.
MAIN_SCREENS = (
    *("idle", "start", "buy", "number", "item", "age", "pay", "door", "done", "declined", "error", "problem"),
    *RETURN_SCREENS,
    *STAFF_SCREENS,
)
OVERLAYS = ("help", "timeout")

# Screens that also speak what the card terminal says (the `terminal` catalogue).
SPEAKS_TERMINAL = ("pay",)


def spoken_keys() -> list[str]:
    """Every catalogue key any screen speaks, once."""
    return list(dict.fromkeys(key for keys in SCREENS.values() for key in keys))
