"""Bring-up of the autovla stack: stack description, bring-up command, README tables."""
