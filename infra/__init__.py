"""CDK infrastructure for alertbridge: one stack composing one construct per capability."""
