"""What the touchscreen says while the terminal works: the terminal's codes in our own words."""

from __future__ import annotations

# Intermediate status codes (zvt.md §5) → German screen text. Raw codes are never shown.
_PROMPTS = {
    0x00: "Bitte Betrag bestätigen",
    0x01: "Bitte Anzeige am Kartenterminal beachten",
    0x02: "Bitte Anzeige am Kartenterminal beachten",
    0x03: "Karte nicht akzeptiert",
    0x04: "Zahlung wird geprüft …",
    0x0A: "Bitte Karte einstecken oder auflegen",
    0x0B: "Bitte Karte entnehmen",
    0x0C: "Karte nicht lesbar – bitte erneut versuchen",
    0x0E: "Bitte warten …",
    0x13: "Zahlung nicht möglich",
    0x14: "Guthaben nicht ausreichend",
    0x15: "PIN falsch",
    0x17: "Bitte warten …",
    0x18: "PIN zu oft falsch eingegeben",
    0x1C: "Zahlung genehmigt",
    0x1D: "Zahlung abgelehnt",
}


def prompt_for(code: int) -> str:
    """Screen text for an intermediate status; 0x41-0x5D repeat 0x01-0x1D plus 'remove card'."""
    if 0x41 <= code <= 0x5D:
        base = _PROMPTS.get(code - 0x40)
        return f"{base} – Bitte Karte entnehmen" if base else "Bitte Karte entnehmen"
    return _PROMPTS.get(code, "Bitte warten …")


FINAL_TEXT = {
    "done": "Vielen Dank für Ihren Einkauf!",
    "cancelled": "Einkauf abgebrochen",
    "declined": "Zahlung abgelehnt",
    "aborted": "Zahlung abgebrochen – es wurde nichts abgebucht",
    "reversed": "Das Fach ließ sich nicht öffnen – die Zahlung wurde storniert",
    "released_not_charged": "Vielen Dank! Bitte entnehmen Sie Ihre Ware",
    "charge_unknown": "Vielen Dank! Die Zahlung wird noch geprüft",
    "expired": "Die Zeit für die App-Zahlung ist abgelaufen – es wurde nichts abgebucht",
    "refund_requested": "Das Fach ließ sich nicht öffnen – Sie bekommen Ihr Geld über die App zurück",
}
