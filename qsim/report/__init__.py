"""Presenting summaries to people: terminal tables (later: plots and HTML reports)."""

from qsim.report.console import render_summary

__all__ = ["render_summary"]
