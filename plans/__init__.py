"""Plan files (TOML) shipped with pulje; `plans/README.md` describes the format.

A package only so that the bundled plans install with pulje and `pulje demo`
finds them with importlib.resources.
"""
