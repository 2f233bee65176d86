"""Simulated ESC/POS receipt printer: real-time status, fault knobs, per-job transcripts.

sim = PrinterSimulator(seed=1, paper_lines=None)
url = await sim.start_tcp()          # socket://127.0.0.1:PORT, like a network printer on 9100
path = await sim.start_pty()         # or a raw pty, like a serial printer
sim.set_faults(paper="out")          # cover_open=, offline=, cutter_error=, reply="silent"|"late"|"garbage"
sim.replace_paper()
job = sim.jobs[-1]; job.text, job.barcodes, job.qr_codes, job.cuts, job.transcript()
"""

from .device import Paper, PrinterMechanism, ReplyMode
from .escpos import EscPosParser, Op
from .server import PrinterSimulator, paper_cost
from .transcript import Barcode, Job, QrCode, TextLine, TranscriptBuilder, transcribe

__all__ = [
    "Barcode",
    "EscPosParser",
    "Job",
    "Op",
    "Paper",
    "PrinterMechanism",
    "PrinterSimulator",
    "QrCode",
    "ReplyMode",
    "TextLine",
    "TranscriptBuilder",
    "paper_cost",
    "transcribe",
]
