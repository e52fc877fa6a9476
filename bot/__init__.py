"""The aiohttp host: composition root, webhooks, the messaging bot and the CLI."""
