"""Runs the AutoVLA model with adaptive reasoning; publishes plans, explanations."""
