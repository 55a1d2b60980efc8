"""Evaluation suites on benchmarks that ship inside packages (see ``base.EvalSuite``)."""
