"""Core of yuqing: the post schema, configuration, durable queue, pipeline and CLI."""
