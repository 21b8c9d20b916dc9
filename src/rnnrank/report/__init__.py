"""Reports: figures (matplotlib) and Markdown/HTML pages of runs."""

from .page import run_summary as run_summary
from .page import write_report as write_report
