"""Humans in the loop: a person drives the environment, and the game's telemetry of people.

A person is a policy that reads a device (DESIGN.md): :mod:`~acgym.human.devices`
(gamepad, wheel and pedals, keyboard, a scripted device for tests) behind one interface,
calibrated by :mod:`~acgym.human.mapping` (a file per machine); :mod:`~acgym.human.person`
turns a device's reading into the environment's action through its own action inverse,
so the person's controls go through the same rate limits as an agent's;
:mod:`~acgym.human.session` drives ``acgym/Race-v0`` at the control rate in real time (or
the game through ``acgym/AssettoCorsa-v0``) and the environment writes the episode log, so
a person's laps are a dataset exactly as the expert's are. :mod:`~acgym.human.window` draws
the chase and top-down views and the HUD with pygame-ce (``pip install 'acgym[human]'``).

:mod:`~acgym.human.motec` reads MoTeC ``.ld`` / ``.ldx`` logs and
:mod:`~acgym.human.motec_import` turns them into the same dataset layout.

Only the command line (``acgym drive``, ``acgym dataset import-motec``, ``acgym bench
human``) imports this package.
"""
