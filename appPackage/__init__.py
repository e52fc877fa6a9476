"""The Teams app package template and icons, shipped as the package ``bot.app_package``."""
