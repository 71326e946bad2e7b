"""The state table's physical layout: shared by the DynamoDB adapter and the CDK construct.

One table, several item kinds told apart by the partition key's prefix. Open keys and maintenance windows
sit in a sparse global secondary index, so listing them never scans the table.
"""

PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
INDEX_NAME = "gsi1"
INDEX_PARTITION_KEY = "gsi1pk"
INDEX_SORT_KEY = "gsi1sk"

KEY_PREFIX = "KEY#"  # one item per dedup key (StateItem)
WEBHOOK_PREFIX = "WEBHOOK#"  # one item per delivered X-Webhook-Id, with a TTL
MAINTENANCE_PREFIX = "MAINT#"  # one item per maintenance window
INCIDENT_PREFIX = "INCIDENT#"  # one item per PagerDuty incident id: the dedup key it belongs to

OPEN_INDEX_VALUE = "OPEN"  # gsi1pk of open state items (removed when they close)
MAINTENANCE_INDEX_VALUE = "MAINT"  # gsi1pk of maintenance windows
SUPPRESSED_INDEX_VALUE = "SUPPRESSED"  # gsi1pk of keys whose trigger a maintenance window held back
UNCONFIRMED_INDEX_VALUE = "UNCONFIRMED"  # gsi1pk of keys the bridge resolved, until PagerDuty confirms it
RECORDED_INDEX_VALUE = "RECORDED"  # gsi1pk of keys in ALARM recorded without a page (multi-time-series)
# gsi1pk of keys a person resolved (in PagerDuty or with `alertbridge resolve`) while the alarm's last known
# state is not OK: the episode goes on, unpaged, until an OK or a new episode ends it
RESOLVED_FIRING_INDEX_VALUE = "RESOLVED_FIRING"
