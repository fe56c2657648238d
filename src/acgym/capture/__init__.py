"""The game's pixels: a capture helper that runs beside the game (a side process).

On each state the game's ego server sends, the plugin triggers the helper
(:mod:`acgym.protocol.frames`); the helper grabs the game's window (X11 on Linux and
under Proton: :mod:`acgym.capture.x11`; Windows: dxcam, :mod:`acgym.capture.windows`),
crops and resizes it (:mod:`acgym.capture.image_ops`), writes it into shared memory for
a client on the same machine (:mod:`acgym.protocol.frame_ring`) and sends it, compressed
and chunked, to clients on other machines (:mod:`acgym.capture.helper`). Nothing here is
imported by the package unless capture is asked for.
"""
