"""The hub core: configuration, source registry, federation engine, policy and app.

It knows no particular agency: agencies appear only in mapping files and configuration.
"""
