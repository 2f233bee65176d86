"""NTAG213 cards answering nfcpy's UDP driver, so unmodified nfcpy reads UID and NDEF without hardware."""

from .field import Exchange, NfcTagSimulator, TagFaults
from .ntag213 import Ntag213, Ntag213Responder, TagState

__all__ = ["Exchange", "NfcTagSimulator", "Ntag213", "Ntag213Responder", "TagFaults", "TagState"]
