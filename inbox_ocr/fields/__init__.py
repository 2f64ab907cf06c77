"""Key fields of an invoice or receipt (``extract_fields``; the rules are in ``extract``).

One module per concern, imported in this order: ``model`` (the records), ``lines`` (text with
OCR confidences), ``numbers``, ``dates``, ``locale``, ``labels``, ``candidates`` (values next
to their labels), ``identifiers`` (IBAN and VAT checksums), ``totals`` (the amounts, checked
against each other and the amounts paid), ``extract`` (choosing and checking).
"""

from inbox_ocr.fields.dates import DateReading, find_dates
from inbox_ocr.fields.extract import extract_fields
from inbox_ocr.fields.identifiers import iban_problem, tax_id_problem
from inbox_ocr.fields.lines import align_words, label_view
from inbox_ocr.fields.locale import detect_locale
from inbox_ocr.fields.model import FIELD_NAMES, Field, Fields, Locale, PageInput
from inbox_ocr.fields.numbers import AmbiguousNumber, money, parse_amount

__all__ = ["FIELD_NAMES", "AmbiguousNumber", "DateReading", "Field", "Fields", "Locale",
           "PageInput", "align_words", "detect_locale", "extract_fields", "find_dates", "iban_problem",
           "label_view", "money", "parse_amount", "tax_id_problem"]
