"""Closed-loop simulation of the catalogue scenarios and the one scorer (NAVSIM / Bench2Drive)."""
