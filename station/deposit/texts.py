"""What the screen says about the return machine and a return (German, users-and-words.md)."""

from __future__ import annotations

from deposit import State

from .flow import ReturnState

NOT_READY = {
    State.BIN_FULL: "Der Pfandautomat ist voll – bitte später wiederkommen",
    State.FAULT: "Der Pfandautomat hat eine Störung",
    State.OUT_OF_ORDER: "Der Pfandautomat ist außer Betrieb",
    State.SESSION: "Am Pfandautomaten läuft gerade eine Rückgabe",
    State.BUSY: "Am Pfandautomaten läuft gerade eine Rückgabe",
}
SILENT = "Der Pfandautomat antwortet gerade nicht – bitte später erneut versuchen"
STORAGE_TEXT = "Der Speicher der Station ist gerade nicht beschreibbar – bitte später erneut versuchen"

STATE_TEXT = {
    ReturnState.COUNTING: "Bitte Leergut einzeln einlegen",
    ReturnState.CHOOSING: "Fertig – bitte Pfandbon, Guthaben oder Spende wählen",
    ReturnState.CANCELLED: "Die Rückgabe wurde beendet",
}
SETTLED_TEXT = {
    ReturnState.VOUCHER: "Ihr Pfandbon wird gedruckt – er ist auch über den QR-Code abrufbar",
    ReturnState.CREDIT: "Ihr Guthaben ist bereit – jetzt einkaufen",
    ReturnState.DONATED: "Vielen Dank für Ihre Spende!",
}
