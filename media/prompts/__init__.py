"""The standard prompts, shipped as the package ``bot.standard_prompts``."""
