"""DynamoDB and SQS access behind small classes. Table and queue definitions live in template.yaml."""
