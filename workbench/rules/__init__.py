"""Rules files: what a `rules=FILE` listener answers, read and checked (`loader`), matched
(`matchers`) and rendered (`template`). Textual-free and engine-free: the behaviour that uses
them is `workbench.engine.behaviours.rules`."""

from workbench.rules.loader import Rule, RulesError, RuleSet, file_signature, load_rules

__all__ = ["Rule", "RuleSet", "RulesError", "file_signature", "load_rules"]
