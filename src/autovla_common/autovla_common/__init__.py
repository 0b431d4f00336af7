"""Helpers shared by the autovla_ros nodes."""
