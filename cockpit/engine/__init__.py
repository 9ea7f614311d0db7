"""The control loop: observe backends → step schedulers → actuate → journal, over an injected clock."""
