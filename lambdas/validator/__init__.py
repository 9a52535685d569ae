"""The validator: CloudWatch Logs subscription → validated, enriched archive and run state."""
