"""The asyncio trading core. Never imports textual; torch only lazily (through models/)."""
