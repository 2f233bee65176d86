"""ESC/POS receipt printer: status codec, transports (pyserial URL or USB) and the async driver.

Layers
- `status`: pure codec for `DLE EOT n` (`10 04 n`) and its one reply byte; `assess()` turns a
  round of replies into a `PrinterStatus` whose `faults` are `Fault` values, most specific first.
- `transport`: `open_transport(port)`: any pyserial URL (device path, pty, `socket://host:9100`)
  or `usb:VID:PID` through python-escpos's `Usb`; blocking calls in one named worker thread.
- `driver`: `Printer`, one lock per printer; status before and after every job.

Service-facing API (`Printer`)
    printer = Printer("socket://10.0.0.7:9100", name="receipt", status_timeout_s=0.5)
    await printer.start() -> PrinterStatus            # never raises because of the hardware
    await printer.status() -> PrinterStatus           # n = 1, 2, 4 now; .ok, .fault, .paper_near_end
    await printer.print_job(job_id, data) -> JobResult
        PrintRefused  nothing was sent (paper_out, cover_open, offline, no_answer, …): retry later
        PrintFailed   bytes were sent but the status after the job shows a fault: paper state unknown
        DuplicateJob  this job id was already sent: the driver never reprints it
    printer.snapshot() -> PrinterSnapshot; printer.availability (common.availability)
    await printer.stop()

Render jobs with python-escpos 3.1 `Dummy` (see `station/receipts`), never with its I/O classes:
their status helpers read "plenty of paper" when no byte comes back.
"""

from .driver import (
    AFTER_JOB,
    BEFORE_JOB,
    DuplicateJob,
    JobResult,
    Printer,
    PrinterError,
    PrinterFault,
    PrinterSnapshot,
    PrintFailed,
    PrintRefused,
)
from .status import (
    Fault,
    InvalidStatusByte,
    PrinterStatus,
    StatusKind,
    assess,
    decode,
    is_valid,
    status_request,
)
from .transport import (
    FlowControl,
    PrinterTransport,
    SerialPrinterTransport,
    UsbTransport,
    open_transport,
    parse_usb_port,
)

__all__ = [
    "AFTER_JOB",
    "BEFORE_JOB",
    "DuplicateJob",
    "Fault",
    "FlowControl",
    "InvalidStatusByte",
    "JobResult",
    "PrintFailed",
    "PrintRefused",
    "Printer",
    "PrinterError",
    "PrinterFault",
    "PrinterSnapshot",
    "PrinterStatus",
    "PrinterTransport",
    "SerialPrinterTransport",
    "StatusKind",
    "UsbTransport",
    "assess",
    "decode",
    "is_valid",
    "open_transport",
    "parse_usb_port",
    "status_request",
]
