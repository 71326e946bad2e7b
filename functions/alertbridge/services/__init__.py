"""The orchestrators: they drive the ports (never the adapters) to carry out what logic/ decides.

- `pipeline.py`: one delivery-queue message through decide -> send -> commit (the delivery function);
- `reconcile.py`: the reconciler's run, from the snapshot to observations on the delivery lane;
- `webhook.py`: one PagerDuty webhook delivery through verify -> map -> mirror -> incident event;
- `incident_events.py`: the bounded put of an incident event on the bus.
"""
