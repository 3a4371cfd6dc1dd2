"""Names shared by the legacy scripts, the revisions and the models."""

DEFAULT_DOMAIN = "default"
NAME_LENGTH = 64
