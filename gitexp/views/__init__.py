"""Turning read-model data into terminal tables (and, later, web pages)."""
