"""Scoring: the exact Decimal engine (`engine`), the JSON exchange format (`exchange`), a round's
configuration for the engine (`round_config`), the database→engine adapter (`adapter`), a round's
stored results (`results`) and their Excel exports (`exports`)."""
