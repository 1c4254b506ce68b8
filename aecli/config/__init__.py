"""Configuration: the key declarations, the one validation layer and the migration of old run configs."""
