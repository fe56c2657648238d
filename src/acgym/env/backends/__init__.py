"""The environment's backends: ``LocalSim`` (the simulator in process) and ``Remote``
(the game plugin or ``acgym sim serve`` over the protocol).

Import them from their modules (``acgym.env.backends.local``, ``.remote``): each pulls in
its own world (the simulator, or the protocol client) only when used.
"""
