"""alertbridge: CloudWatch alarms and SNS alerts to PagerDuty Events API v2."""
