"""Argument types the command-line modules share (argparse `type=` functions).

Messages follow `kerasmm.utils.checks` ("must be a positive integer"), and
argparse prefixes them with the option's name:

>>> positive_int("3"), non_negative_int("0")
(3, 0)
"""

import argparse


def _integer(text, minimum, requirement):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"must be {requirement}, received {text!r}")
    return value


def positive_int(text):
    """An integer >= 1, else an argparse error naming the text received."""
    return _integer(text, 1, "a positive integer")


def non_negative_int(text):
    """An integer >= 0, else an argparse error naming the text received."""
    return _integer(text, 0, "an integer >= 0")
