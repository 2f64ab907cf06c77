"""inbox-ocr: a service that watches a scanner inbox, OCRs each file and writes the outbox."""

__version__ = "0.1.0"
