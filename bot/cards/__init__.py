"""Adaptive Cards the bot sends: typed builders, one module per kind of card."""
