"""Benchmark suites: the tables (`suites`), training them (`runner`), their results pages (`page`)."""
