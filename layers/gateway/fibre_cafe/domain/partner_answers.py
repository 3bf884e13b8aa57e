"""Which HTTP answers from a partner (a supplier or a tenant) are worth trying again later.

Pure, so the supplier's answer table (supplier_answers.py) and the partner client (dal/partner_client.py) share
one rule: 408 (the partner timed out reading us), 429 (slow down) and every 5xx. Other answers are the
partner's decision, whatever each side makes of it.
"""

from __future__ import annotations

RETRYABLE_4XX = frozenset({408, 429})


def is_transient_status(http_status: int) -> bool:
    return http_status in RETRYABLE_4XX or http_status >= 500
