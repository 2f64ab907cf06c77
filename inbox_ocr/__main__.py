import sys

from inbox_ocr.cli import main

sys.exit(main())
