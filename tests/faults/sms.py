"""An SMS backend for the fault tests: appends each message to the file FAULT_SMS_LOG, one line each."""

import os


class FileSMSBackend:
    def send(self, phone: str, text: str) -> None:
        with open(os.environ["FAULT_SMS_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{phone}\t{text}\n")
            log.flush()
            os.fsync(log.fileno())
