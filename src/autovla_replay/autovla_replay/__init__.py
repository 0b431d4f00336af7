"""Replay rosbags through the stack, record its outputs, score, compare and report them."""
