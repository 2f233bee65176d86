"""NFC reader on nfcpy (USB and serial readers, or the UDP simulator): taps as events, down as a state."""

from .events import NdefRecord, TagRead
from .reader import NfcReader, TapStream
from .settings import NfcReaderSettings, check_device_path

__all__ = ["NdefRecord", "NfcReader", "NfcReaderSettings", "TagRead", "TapStream", "check_device_path"]
