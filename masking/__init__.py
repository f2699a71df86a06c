"""Masking: per-partner views of records by sensitivity class, partner tier and purpose."""

from __future__ import annotations

from masking.aggregate import DEFAULT_K, KAnonymousExport, k_anonymous
from masking.engine import FieldDecision, MaskedView, RelayRequest, mask, mask_json
from masking.keys import InvalidToken, MaskingKeys
from masking.policy import POLICY, POLICY_VERSION, Operator, Policy, Rule

__all__ = [
    "DEFAULT_K",
    "POLICY",
    "POLICY_VERSION",
    "FieldDecision",
    "InvalidToken",
    "KAnonymousExport",
    "MaskedView",
    "MaskingKeys",
    "Operator",
    "Policy",
    "RelayRequest",
    "Rule",
    "k_anonymous",
    "mask",
    "mask_json",
]
