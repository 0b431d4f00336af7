"""Validates plans, supervises the planner, falls back to a rule-based controller."""
