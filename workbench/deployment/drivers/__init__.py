"""Scripts that run inside a toolchain's side environment (never imported by workbench).

Each is started as ``<side python> <script> <phase> job.json`` by
:mod:`workbench.deployment.devices`; they may import only the vendor package and numpy.
"""
