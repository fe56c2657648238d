"""Subcommands of the ``acgym`` command line, one module per area.

Command modules sit above every part of the package, so they may combine them (the
``track raceline --car`` command needs a car preset from ``sim``, for instance).
"""
