"""Argument types the command modules share (argparse `type=` functions)."""

import argparse


def positive_int(text):
    """An integer >= 1 written in plain digits, else an argparse error."""
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, received {text!r}")
    return int(text)


def non_negative_int(text):
    """An integer >= 0 written in plain digits, else an argparse error."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, received {text!r}")
    return int(text)
