"""The bridge on this machine, for the demo, the soak, `alertbridge serve-webhook` and the tests: the PagerDuty
emulator, moto (in process or as a serial server) with stand-ins for the CloudWatch APIs it lacks, the Lambda
event sources, the built-in scenario and the fault-injection soak. Left out of the Lambda asset."""
