"""The operator commands' logic (`alertbridge active|ack|resolve|note|maintenance|redrive|send-test|doctor`),
run from a workstation against a deployed stack with the user's AWS credentials. Not in the Lambda path."""
