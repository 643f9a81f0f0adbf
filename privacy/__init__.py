"""Personal information protection (个人信息保护): the inventory of where personal information
is processed, the policy in force, and unmasking on need. Detection and masking at ingest live
in ``core.pii`` (shared with the collectors)."""
