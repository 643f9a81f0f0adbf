"""Personal information (个人信息): detectors, the masking policy and the event guard.

Shared by the collectors (masking before the spool), the API (display masking, unmask) and
compliance (evidence); imports no domain.
"""
