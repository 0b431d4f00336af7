"""Fault campaign over the live autovla stack (make faults)."""
