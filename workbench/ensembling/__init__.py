"""Ensembles: fuse stored prediction runs, train one model per preset and fuse their boxes.

(The package is ``ensembling`` so that it never shadows the facade verb ``wb.ensemble``.)
"""
